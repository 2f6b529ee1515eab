// The install marker: how install-beacon knows that *this install* has already
// reported, so a re-run (`npm rebuild`, a second postinstall, a runtime call in
// a later process) does not count it twice.
//
// Design note: where the marker lives.
// - Not in the package folder. pnpm 10's side-effects cache copies files that a
//   postinstall creates into the shared store and restores them into other
//   projects, so a marker there would silence installs it never saw; under yarn
//   PnP the package lives in a read-only zip; global and read-only package
//   folders are common.
// - In the installing tree's own node_modules: `<root>/node_modules/.install-beacon/`
//   (`<root>` is everything before the first node_modules segment, so npm, yarn,
//   bun, nested copies, pnpm's .pnpm store and global prefixes all share one
//   folder per tree). `npm ci` or deleting node_modules removes it with the
//   install: the next install is a new one. For yarn PnP the tree is
//   `<root>/.yarn`, so the marker is `<root>/.yarn/.install-beacon/`.
// - The file name holds the package name and version plus a signature of the
//   package folder (device, inode, birth time): uninstalling and installing the
//   same version again creates a new folder, hence a new signature and a new
//   install; `npm rebuild` keeps the folder, hence "already reported".
// - Claiming is an exclusive create (O_EXCL), atomic on every local file
//   system, so of many processes starting at once exactly one wins and sends.
//   A failed send releases the claim (deletes the file) so a later trigger
//   may try again; nothing else ever deletes it.

export interface MarkerFs {
  /** A string that changes when the directory is recreated, or undefined. */
  dirSignature(dir: string): string | undefined;
  /** mkdir -p; false if it could not be created. */
  mkdirp(dir: string): boolean;
  /** Create the file only if it does not exist. */
  createExclusive(file: string, content: string): 'created' | 'exists' | 'failed';
  exists(file: string): boolean;
  remove(file: string): void;
}

export interface MarkerLocation {
  dir: string;
  file: string;
}

/** 32-bit FNV-1a, hex: keeps file names short and safe for any package name. */
function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}

/** The directory that holds markers for the tree `pkgDir` was installed into. */
export function markerDir(pkgDir: string): { dir: string; pnp: boolean } | undefined {
  const yarn = /^(.*?)[\\/]\.yarn[\\/](?:unplugged|cache|__virtual__)[\\/]/.exec(pkgDir);
  if (yarn) return { dir: `${yarn[1]}/.yarn/.install-beacon`, pnp: true };
  const nm = /^(.*?[\\/]node_modules)(?:[\\/]|$)/.exec(pkgDir);
  if (nm) return { dir: `${nm[1]}/.install-beacon`, pnp: false };
  return undefined;
}

export function markerLocation(pkgDir: string, name: string, version: string, fs: MarkerFs): MarkerLocation | undefined {
  const where = markerDir(pkgDir);
  if (!where) return undefined;
  // Under PnP the package folder may be a zip entry with no stable identity:
  // there, one event per name@version per project.
  const signature = where.pnp ? 'pnp' : fs.dirSignature(pkgDir);
  if (!signature) return undefined;
  const id = `${name}@${version}`;
  const readable = id.replace(/[^a-zA-Z0-9._-]+/g, '_').slice(0, 60);
  return { dir: where.dir, file: `${where.dir}/${readable}-${fnv1a(id)}-${signature.replace(/[^a-zA-Z0-9.]/g, '_')}.json` };
}

export function isReported(location: MarkerLocation, fs: MarkerFs): boolean {
  return fs.exists(location.file);
}

/**
 * Claim the right to report this install. 'claimed': we send; 'taken': someone
 * already did (or is doing it); 'unwritable': no marker can be kept here.
 */
export function claim(location: MarkerLocation, fs: MarkerFs, trigger: string, now: number): 'claimed' | 'taken' | 'unwritable' {
  const content = JSON.stringify({ trigger, at: new Date(now).toISOString() }) + '\n';
  let result = fs.createExclusive(location.file, content);
  if (result === 'failed' && fs.mkdirp(location.dir)) result = fs.createExclusive(location.file, content);
  return result === 'created' ? 'claimed' : result === 'exists' ? 'taken' : 'unwritable';
}

export function release(location: MarkerLocation, fs: MarkerFs): void {
  fs.remove(location.file);
}
