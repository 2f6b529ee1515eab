// One platform, however it is spelled. Python sends platform.system() and platform.machine()
// (`Linux`, `Darwin`, `Windows`; `x86_64`, `AMD64`, `aarch64`), Node process.platform and
// process.arch (`linux`, `darwin`, `win32`; `x64`, `arm64`), a shell `uname -s` and `uname -m`
// (`Linux`, `MINGW64_NT-10.0-19045`, `CYGWIN_NT-10.0`, `FreeBSD`; `x86_64`, `i686`). The counts
// (rollups and combinations) keep Node's spelling, so install-beacon's own events and everything
// counted before stay as they were; the raw event keeps what was sent (the events export).
// A value that is in neither table is counted as sent.

/** Lowercased spelling -> Node's name. */
const PLATFORMS: Readonly<Record<string, string>> = {
  linux: 'linux',
  darwin: 'darwin', macos: 'darwin', macosx: 'darwin', osx: 'darwin',
  windows: 'win32', win32: 'win32', win64: 'win32', windows_nt: 'win32', cygwin: 'win32', msys: 'win32',
  freebsd: 'freebsd', openbsd: 'openbsd', netbsd: 'netbsd', sunos: 'sunos', solaris: 'sunos', aix: 'aix', android: 'android',
};

/**
 * Spellings by how they start (lowercased): uname -s on Windows (MINGW64_NT-10.0-19045,
 * MSYS_NT-10.0, CYGWIN_NT-10.0-WOW) and Python's sys.platform on the BSDs (freebsd14).
 */
const PREFIXES: ReadonlyArray<[string, string]> = [['mingw', 'win32'], ['msys', 'win32'], ['cygwin', 'win32'], ['freebsd', 'freebsd'], ['openbsd', 'openbsd'], ['netbsd', 'netbsd']];

const ARCHES: Readonly<Record<string, string>> = {
  x64: 'x64', x86_64: 'x64', amd64: 'x64', 'x86-64': 'x64',
  arm64: 'arm64', aarch64: 'arm64', armv8: 'arm64', armv8l: 'arm64',
  ia32: 'ia32', x86: 'ia32', i386: 'ia32', i486: 'ia32', i586: 'ia32', i686: 'ia32',
  arm: 'arm', armv6l: 'arm', armv7l: 'arm', armhf: 'arm',
  ppc64: 'ppc64', ppc64le: 'ppc64', s390x: 's390x', riscv64: 'riscv64', loong64: 'loong64', loongarch64: 'loong64',
};

export function canonicalPlatform(value: string): string {
  const v = value.toLowerCase();
  return PLATFORMS[v] ?? PREFIXES.find(([p]) => v.startsWith(p))?.[1] ?? value;
}

export function canonicalArch(value: string): string {
  return ARCHES[value.toLowerCase()] ?? value;
}

/** The variables as the counts keep them: platform and arch under Node's names. */
export function countedVars(vars: Readonly<Record<string, string>>): Record<string, string> {
  const out = { ...vars };
  if (out.platform !== undefined) out.platform = canonicalPlatform(out.platform);
  if (out.arch !== undefined) out.arch = canonicalArch(out.arch);
  return out;
}

const quote = (s: string): string => `'${s.replace(/'/g, "''")}'`;
function caseSql(x: string, table: Readonly<Record<string, string>>, prefixes: ReadonlyArray<[string, string]>): string {
  const by = new Map<string, string[]>();
  for (const [spelling, name] of Object.entries(table)) by.set(name, [...(by.get(name) ?? []), spelling]);
  const whens = [...by].map(([name, spellings]) => `WHEN lower(${x}) IN (${spellings.map(quote).join(', ')}) THEN ${quote(name)}`);
  for (const [p, name] of prefixes) whens.push(`WHEN lower(${x}) LIKE ${quote(`${p}%`)} THEN ${quote(name)}`);
  return `CASE ${whens.join(' ')} ELSE ${x} END`;
}

/** canonicalPlatform and canonicalArch as SQL over the text expression `x` (SQLite and PostgreSQL), for the migration of what was counted before. */
export const platformSql = (x: string): string => caseSql(x, PLATFORMS, PREFIXES);
export const archSql = (x: string): string => caseSql(x, ARCHES, []);
