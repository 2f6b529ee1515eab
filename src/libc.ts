// Which C library, and which version of it, the running Node uses (Linux only).
//
// Authors of packages with prebuilt binaries choose the glibc versions they
// build for; {libc_version} tells them what their users run. No subprocess
// (`ldd --version` would cost a fork and exec on every install that asks):
// the answer is read from files, and only when a template names the variable.
//
// - The ELF interpreter of Node's own executable (PT_INTERP, in its first few
//   hundred bytes) is the dynamic loader Node runs with: /lib64/ld-linux-x86-64.so.2
//   for glibc, /lib/ld-musl-x86_64.so.1 for musl. That is the C library this
//   process uses, even where another one is installed beside it (Debian's
//   `musl` package puts /lib/ld-musl-x86_64.so.1 on a glibc system).
// - glibc's loader holds the string "... stable release version 2.36." (what
//   `ld.so --version` prints); the loader is ~200 kB, libc.so.6 ~2 MB.
// - musl's loader is its libc.so, which holds its version (what the loader
//   prints run by itself: "Version 1.2.4") as a NUL-terminated string.
// process.report's header has glibcVersionRuntime, but building a report costs
// ~4 ms and gathers far more than this needs; reading the loader costs ~0.3 ms.

export type LibcFamily = 'glibc' | 'musl';

export interface LibcProbes {
  /** Up to `max` bytes from the start of the file (following symlinks), or undefined (never throws). */
  readBytes(path: string, max: number): Uint8Array | undefined;
  /** Names in a directory, or [] if unreadable (never throws). */
  listDir(path: string): string[];
}

const PT_INTERP = 3;
/** Enough for the ELF header, program headers and interpreter path of any executable seen (node: 0x350, bun: 0x270). */
const HEAD_BYTES = 4096;
/** A loader is 0.2–1 MB; anything far larger is not one. */
const MAX_LOADER_BYTES = 8 * 1024 * 1024;

/** The PT_INTERP path of an ELF executable (32- or 64-bit, either byte order), from its first bytes; undefined if none or not ELF. */
export function elfInterpreter(head: Uint8Array): string | undefined {
  if (head.length < 52 || head[0] !== 0x7f || head[1] !== 0x45 || head[2] !== 0x4c || head[3] !== 0x46) return undefined;
  const is64 = head[4] === 2;
  const le = head[5] === 1;
  if ((head[4] !== 1 && !is64) || (head[5] !== 1 && head[5] !== 2)) return undefined;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  // A 64-bit word as two halves (no BigInt: its first use costs more than this whole parse).
  const word = (at: number): number => (is64 ? view.getUint32(at + (le ? 0 : 4), le) + view.getUint32(at + (le ? 4 : 0), le) * 2 ** 32 : view.getUint32(at, le));
  try {
    const phoff = word(is64 ? 0x20 : 0x1c);
    const phentsize = view.getUint16(is64 ? 0x36 : 0x2a, le);
    const phnum = view.getUint16(is64 ? 0x38 : 0x2c, le);
    for (let i = 0; i < phnum; i++) {
      const ph = phoff + i * phentsize;
      if (view.getUint32(ph, le) !== PT_INTERP) continue;
      const offset = word(ph + (is64 ? 0x08 : 0x04));
      const size = word(ph + (is64 ? 0x20 : 0x10));
      if (offset + size > head.length) return undefined; // beyond what was read: answer from the fallback instead
      // Up to its NUL, one character per byte: plain code (a Buffer's subarray and toString cost 0.15 ms on first use).
      let path = '';
      for (let at = offset; at < offset + size && head[at] !== 0; at++) path += String.fromCharCode(head[at]!);
      return path.startsWith('/') ? path : undefined;
    }
  } catch {
    return undefined; // a header pointing outside the bytes read (RangeError): treat as no interpreter
  }
  return undefined;
}

/** Bytes as Latin-1 text (one character per byte, so offsets and ASCII strings survive), decoded natively without a copy. */
function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

/** The family a loader's file name means: ld-musl-<arch>.so.1 is musl; ld-linux*, ld64.so.*, ld.so.1 are glibc's. */
export function loaderFamily(path: string): LibcFamily | undefined {
  const base = path.slice(path.lastIndexOf('/') + 1);
  if (/^ld-musl-[\w-]+\.so\.\d+$/.test(base)) return 'musl';
  if (/^(?:ld-linux[\w.-]*\.so\.\d+|ld64\.so\.\d+|ld\.so\.\d+|ld-\d+\.\d+\.so)$/.test(base)) return 'glibc';
  return undefined;
}

/** The version a loader's contents state: glibc's "release version 2.36", or musl's lone NUL-terminated "1.2.4". */
export function versionInLoader(family: LibcFamily, contents: Uint8Array): string | undefined {
  const bytes = Buffer.from(contents.buffer, contents.byteOffset, contents.byteLength);
  if (family === 'glibc') {
    const at = bytes.indexOf('release version ');
    return at === -1 ? undefined : /^release version (\d+\.\d+(?:\.\d+)?)/.exec(bytes.toString('latin1', at, at + 40))?.[1];
  }
  const text = latin1(contents);
  if (!text.includes('musl libc')) return undefined;
  // musl keeps its version (src/internal/version.c) as a string of its own; if
  // more than one string looks like a version, there is no telling which.
  const found = new Set([...text.matchAll(/\0(\d+\.\d+\.\d+)\0/g)].map((m) => m[1]!));
  return found.size === 1 ? [...found][0] : undefined;
}

/** The loader this Node runs with: its executable's ELF interpreter, else the first one /lib (or /lib64) holds. */
export function findLoader(execPath: string | undefined, probes: LibcProbes): { path: string; family: LibcFamily } | undefined {
  const head = execPath ? probes.readBytes(execPath, HEAD_BYTES) : undefined;
  const interp = head && elfInterpreter(head);
  const interpFamily = interp && loaderFamily(interp);
  if (interp && interpFamily) return { path: interp, family: interpFamily };
  // A static Node, or one we cannot read: the loaders installed, musl first (as Alpine has only musl's).
  for (const dir of ['/lib', '/lib64']) {
    const names = probes.listDir(dir).filter((n) => loaderFamily(n)).sort((a, b) => Number(loaderFamily(b) === 'musl') - Number(loaderFamily(a) === 'musl'));
    if (names[0]) return { path: `${dir}/${names[0]}`, family: loaderFamily(names[0])! };
  }
  return undefined;
}

/** findLoader on Linux; nothing is read elsewhere. */
export const loaderOn = (platform: string, execPath: string | undefined, probes: LibcProbes) => (platform === 'linux' ? findLoader(execPath, probes) : undefined);

/** {libc}: glibc, musl, or none off Linux (a Linux whose loader cannot be found is taken as glibc, the common case). */
export function detectLibcFamily(platform: string, execPath: string | undefined, probes: LibcProbes, loader = loaderOn(platform, execPath, probes)): LibcFamily | 'none' {
  if (platform !== 'linux') return 'none';
  return loader?.family ?? 'glibc';
}

/** {libc_version}: e.g. "2.36" or "1.2.4"; "none" off Linux; "unknown" when Linux's loader or its version cannot be read. */
export function detectLibcVersion(platform: string, execPath: string | undefined, probes: LibcProbes, loader = loaderOn(platform, execPath, probes)): string {
  if (platform !== 'linux') return 'none';
  if (!loader) return 'unknown';
  const contents = probes.readBytes(loader.path, MAX_LOADER_BYTES);
  return (contents && versionInLoader(loader.family, contents)) ?? 'unknown';
}
