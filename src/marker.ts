// The install marker: how install-beacon knows that *this install* has already
// reported, so a re-run (`npm rebuild`, a second postinstall, `reportInstall()`
// in a later process, a worker thread, eight test workers starting at once)
// does not count it twice.
//
// Design note: where the marker lives.
// - Not in the package folder. pnpm 10's side-effects cache copies files that a
//   postinstall creates into the shared store and restores them into other
//   projects, so a marker there would silence installs it never saw; under yarn
//   PnP the package lives in a read-only zip; global and read-only package
//   folders are common.
// - In the installing tree's own node_modules: `<root>/node_modules/.install-beacon/`
//   (`<root>` is everything before the first node_modules segment, so npm, yarn,
//   bun, nested copies, pnpm's .pnpm store and global prefixes all have one
//   folder per tree). `npm ci`, or deleting node_modules, removes it with the
//   install: the next install is a new one. Under yarn PnP the tree is
//   `<root>/.yarn`, so the marker is `<root>/.yarn/.install-beacon/`.
// - When that tree is not writable (a read-only image run by another user), a
//   fallback in the user's cache dir (`~/.cache/install-beacon/markers/`). When
//   neither can be written, the runtime trigger does not send: better one
//   install uncounted than one event per process start.
// - The file name holds a hash of the package folder's path and a signature of
//   its package.json (device, inode, birth time, mtime, size): uninstalling and
//   installing again creates a new file, hence a new install; `npm rebuild`
//   keeps it, hence "already reported". Both come from one stat, so checking the
//   marker costs two stats in all. Under PnP the folder differs between the
//   postinstall (unplugged) and runtime (zip) paths, so the key is the project
//   root plus name@version instead.
// - Claiming is an exclusive create (O_EXCL) of an empty file, atomic on local
//   file systems, so of many processes starting at once exactly one wins. The
//   winner writes the outcome into the file once the server has answered; an
//   empty file is therefore a send in flight, or one that failed for a
//   reason worth retrying. An empty marker older than RETRY_AFTER_MS (the
//   sender died, or the network was down) may be taken over, with an atomic
//   rename, by the next trigger: a lost event is retried, never doubled, and a
//   machine without network does not retry on every process start.

export interface MarkerFs {
  /** A string that changes when the file is recreated, or undefined if it cannot be statted. */
  signature(file: string): string | undefined;
  /** mkdir -p; false if it could not be created. */
  mkdirp(dir: string): boolean;
  /** Create the file only if it does not exist. */
  createExclusive(file: string, content: string): 'created' | 'exists' | 'failed';
  stat(file: string): { size: number; mtimeMs: number } | undefined;
  /** Replace the file's content (and so its mtime); false on failure. */
  write(file: string, content: string): boolean;
  /** Atomic rename; false if `from` is gone or the rename failed. */
  rename(from: string, to: string): boolean;
  remove(file: string): void;
}

/** How long an empty marker (a send in flight, or one that failed) blocks another try. */
export const RETRY_AFTER_MS = 10 * 60 * 1000;

export interface MarkerLocation {
  dir: string;
  file: string;
}

/** 32-bit FNV-1a, hex: keeps file names short and safe for any input. */
export function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}

/** The tree `pkgDir` was installed into, and its marker folder. */
export function markerDir(pkgDir: string): { root: string; dir: string; pnp: boolean } | undefined {
  const yarn = /^(.*?)[\\/]\.yarn[\\/](?:unplugged|cache|__virtual__)[\\/]/.exec(pkgDir);
  if (yarn) return { root: yarn[1] ?? '', dir: `${yarn[1]}/.yarn/.install-beacon`, pnp: true };
  const nm = /^(.*?[\\/]node_modules)(?:[\\/]|$)/.exec(pkgDir);
  if (nm) return { root: nm[1] ?? '', dir: `${nm[1]}/.install-beacon`, pnp: false };
  return undefined;
}

const safe = (text: string): string => text.replace(/[^a-zA-Z0-9._-]+/g, '_').slice(0, 60);

/**
 * Where the marker for the install in `pkgDir` is (primary first, then the
 * fallback). `pkgId` (name@version) is read only under PnP. Empty when the
 * package is not in an installed tree or cannot be statted.
 */
export function markerLocations(pkgDir: string, fs: MarkerFs, pkgId: () => string, fallbackDir?: string): MarkerLocation[] {
  const where = markerDir(pkgDir);
  if (!where) return [];
  let key: string;
  if (where.pnp) {
    const id = pkgId();
    key = `${safe(id)}-${fnv1a(`${where.root}\0${id}`)}-pnp`;
  } else {
    const signature = fs.signature(`${pkgDir}/package.json`);
    if (!signature) return [];
    const label = pkgDir.split(/[\\/]/).slice(-2).join('+').replace(/^.*?node_modules\+/, '');
    key = `${safe(label)}-${fnv1a(pkgDir)}-${signature.replace(/[^a-zA-Z0-9.]/g, '_')}`;
  }
  const locations = [{ dir: where.dir, file: `${where.dir}/${key}.json` }];
  if (fallbackDir) locations.push({ dir: fallbackDir, file: `${fallbackDir}/${key}.json` });
  return locations;
}

export type MarkerState = 'none' | 'reported' | 'in-flight' | 'stale';

/** The state of the first marker that exists. */
export function markerState(locations: MarkerLocation[], fs: MarkerFs, now: number): MarkerState {
  for (const location of locations) {
    const st = fs.stat(location.file);
    if (!st) continue;
    if (st.size > 0) return 'reported';
    return now - st.mtimeMs < RETRY_AFTER_MS ? 'in-flight' : 'stale';
  }
  return 'none';
}

/** Reported, or being reported right now: either way, not this caller's job. */
export function isReported(locations: MarkerLocation[], fs: MarkerFs, now: number): boolean {
  const state = markerState(locations, fs, now);
  return state === 'reported' || state === 'in-flight';
}

export type Claim = { result: 'claimed'; location: MarkerLocation } | { result: 'taken' | 'unwritable' };

/**
 * Claim the right to report this install. 'claimed': the caller sends, then
 * calls finish() or retryLater(); 'taken': someone already did (or is doing
 * it); 'unwritable': no marker can be kept anywhere.
 */
export function claim(locations: MarkerLocation[], fs: MarkerFs, now: number): Claim {
  for (const location of locations) {
    let result = fs.createExclusive(location.file, '');
    if (result === 'failed' && fs.mkdirp(location.dir)) result = fs.createExclusive(location.file, '');
    if (result === 'created') return { result: 'claimed', location };
    if (result === 'failed') continue;
    // It exists: take it over only if it is a stale empty marker, and only if our rename wins.
    const st = fs.stat(location.file);
    if (!st || st.size > 0 || now - st.mtimeMs < RETRY_AFTER_MS) return { result: 'taken' };
    const aside = `${location.file}.${now}-${Math.random().toString(36).slice(2)}.stale`;
    if (!fs.rename(location.file, aside)) return { result: 'taken' };
    fs.remove(aside);
    return fs.createExclusive(location.file, '') === 'created' ? { result: 'claimed', location } : { result: 'taken' };
  }
  return { result: 'unwritable' };
}

/** Record the outcome: the install counts as reported from now on. */
export function finish(location: MarkerLocation, fs: MarkerFs, outcome: { trigger: string; status?: number; at: number }): void {
  fs.write(location.file, JSON.stringify({ trigger: outcome.trigger, status: outcome.status, at: new Date(outcome.at).toISOString() }) + '\n');
}

/** Not delivered, worth another try: keep the claim empty and restart its clock, so the next try waits RETRY_AFTER_MS. */
export function retryLater(location: MarkerLocation, fs: MarkerFs): void {
  fs.write(location.file, '');
}
