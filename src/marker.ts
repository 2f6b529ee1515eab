// The install marker: how install-beacon knows that *this install* has already
// reported, so a re-run (`npm rebuild`, a second postinstall, `reportInstall()`
// in a later process, a worker thread, eight test workers starting at once,
// a container started from an image built with the install) does not count
// it twice.
//
// Design note: where the marker lives.
// - Not in the package folder. pnpm 10's side-effects cache copies files that a
//   postinstall creates into the shared store and restores them into other
//   projects, so a marker there would silence installs it never saw; under yarn
//   PnP the package lives in a read-only zip; global and read-only package
//   folders are common.
// - In the installed tree's own marker folder (layout.ts: `<tree>/node_modules/.install-beacon/`,
//   under Yarn PnP `<project>/.yarn/.install-beacon/`). `npm ci`, or deleting
//   node_modules, removes it with the install: the next install is a new one.
// - Nowhere else. When the tree cannot hold a marker (a read-only image run by
//   another user), the runtime trigger sends nothing: a program start is never
//   an install, and without a marker every start would count. Nothing is ever
//   written in HOME.
//
// What the marker identifies: one package name@version in one tree. Several
// copies of the same version in one install (nested under two parents) are one
// event; the file name holds no path, device, inode or birth time, so the tree
// can be moved, copied with its metadata (`cp -a`, `docker cp`), baked into an
// image layer or mounted again (every overlayfs mount has a new st_dev) and
// stay reported. A real reinstall still counts: npm extracts package.json
// afresh, so its mtime is the extraction time; yarn 1, bun, deno and yarn 4
// keep an older mtime but create the package folder afresh (reborn, below). A
// marker covers the copy whose package.json is not newer than the marker and
// whose folder was not born after it; a newer one at the
// path the marker recorded is a new install of that version ('outdated'),
// taken over like a stale claim, while a newer copy at another path is one
// more copy of an already reported version in this tree. Checking costs one
// read of package.json (name, version, mtime from one open), one stat of the
// marker and one of the package folder (and a read of the marker only when
// the copy is the newer).
//
// Claiming is an exclusive create (O_EXCL) of an empty file, atomic on local
// file systems, so of many processes starting at once exactly one wins. The
// winner writes the outcome into the file once the server has answered; an
// empty file is therefore a send in flight, or one that failed for a reason
// worth retrying. An empty marker older than RETRY_AFTER_MS (the sender died,
// or the network was down) may be taken over by the next trigger, and so may
// an outdated one. A takeover is guarded by a lock file, one name per marker
// (`<marker>.0.takeover`), created exclusively: of the processes that want to
// take it over, whatever state each saw, one creates it; the winner checks the
// marker as it is now (so a process that saw an older state and wins after
// the first taker finished loses), and the lock itself, a fresh empty file,
// then replaces the marker in one rename: no reader ever sees a half-rewritten
// marker (a truncated one showed size 0 with the old mtime and let a second
// process take over: issue 19). A process killed holding the lock leaves it:
// once LOCK_EXPIRES_MS old it is ignored and the next name (`.1.takeover`)
// decides, by the same exclusive create, so breaking a dead lock is never a
// race either; the winner removes the expired ones. A
// lost event is retried, never doubled, and a machine without network does not
// retry on every process start.

export interface MarkerStat {
  size: number;
  mtimeMs: number;
  ctimeMs?: number;
  birthtimeMs?: number;
  dev?: number;
}

export interface MarkerFs {
  /** mkdir -p; false if it could not be created. */
  mkdirp(dir: string): boolean;
  /** Create the file only if it does not exist. */
  createExclusive(file: string, content: string): 'created' | 'exists' | 'failed';
  /** Times a file system does not record are absent or 0 (some keep the ctime as the birth time). */
  stat(file: string): MarkerStat | undefined;
  /** The file's text, or undefined if unreadable. */
  read(file: string): string | undefined;
  /** Replace the file's content (and so its mtime); false on failure. */
  write(file: string, content: string): boolean;
  remove(file: string): void;
  /** Replace `to` with `from` atomically; false on failure. */
  rename(from: string, to: string): boolean;
  /** Names in a folder, or [] if unreadable. */
  list(dir: string): string[];
}

/** How long an empty marker (a send in flight, or one that failed) blocks another try. */
export const RETRY_AFTER_MS = 10 * 60 * 1000;

/** A takeover lock this old was left by a process that died holding it (a takeover takes microseconds). */
export const LOCK_EXPIRES_MS = 60 * 1000;

export interface MarkerLocation {
  dir: string;
  file: string;
  /** The tree the marker belongs to, and the package folder relative to it (recorded in the marker, for pruning). */
  tree?: string;
  path?: string;
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

const safe = (text: string): string => text.replace(/[^a-zA-Z0-9._@-]+/g, '_').slice(0, 80);

/** The package's path inside its tree, with `/` (recorded for pruning; absent when outside the tree, e.g. yarn's global cache). */
export function pathInTree(tree: string, pkgDir: string): string | undefined {
  const t = tree.replace(/\\/g, '/').replace(/\/+$/, '');
  const p = pkgDir.replace(/\\/g, '/');
  return p.startsWith(`${t}/`) ? p.slice(t.length + 1) : undefined;
}

/** The marker of `name@version` in the tree whose marker folder is `dir`. */
export function markerLocation(site: { markerDir: string; treeRoot?: string; pkgDir?: string }, name: string, version: string): MarkerLocation {
  const id = `${name}@${version}`;
  const location: MarkerLocation = { dir: site.markerDir, file: `${site.markerDir}/${safe(id)}-${fnv1a(id)}.json` };
  if (site.treeRoot !== undefined && site.pkgDir !== undefined) {
    location.tree = site.treeRoot;
    const rel = pathInTree(site.treeRoot, site.pkgDir);
    // Equivalent mutant: `if (true)` sets `path: undefined`, which every reader
    // (`if (location.path)`, JSON.stringify) treats as no path.
    if (rel) location.path = rel;
  }
  return location;
}

export type MarkerState = 'none' | 'reported' | 'in-flight' | 'stale' | 'outdated';

function stateOf(st: MarkerStat | undefined, now: number, pkgMtimeMs: number, location: MarkerLocation, fs: MarkerFs): MarkerState {
  if (!st) return 'none';
  // A package.json newer than the marker, or a package folder born after it:
  // this version was installed again after it reported, unless the marker was
  // recorded by a copy at another path (a second copy of an already reported
  // version, added to the tree later).
  // A package outside the tree (no path: pnpm's global virtual store, yarn's
  // global cache) is shared: pnpm builds it afresh for each project linking it
  // and on a rebuild, so its times tell nothing of this tree's install.
  // Equivalent mutants: `st.size > 0` as `true` or `>= 0`. The size test only
  // spares a read: an empty marker never parses as JSON, so recordedElsewhere()
  // returns false for it anyway.
  if (location.path && (pkgMtimeMs > st.mtimeMs || reborn(st, location, fs)) && !(st.size > 0 && recordedElsewhere(location, fs))) return 'outdated';
  if (st.size > 0) return 'reported';
  return now - st.mtimeMs < RETRY_AFTER_MS ? 'in-flight' : 'stale';
}

/**
 * Was the package folder created after the marker was written? yarn 1 copies
 * package.json from its cache with the cache's mtime, bun and deno link it from
 * theirs, yarn 4 extracts it with its zip's time (1984): its mtime says
 * nothing, but their reinstall creates the folder afresh and puts package.json
 * in it. Judged only while the marker is the very file this tree wrote: its
 * ctime is its mtime (a copy, an extracted image layer, a chown give it a later
 * ctime) and it was born before it was last written (so the file system keeps
 * birth times, not the ctime in their place). A folder born after its own
 * mtime, or after its package.json last changed, is a copy that kept its times
 * or an overlay copy-up of the folder, not an install. pnpm 10 links the folder
 * it kept in node_modules/.pnpm again, and yarn 4's global cache serves one zip
 * to every project: neither changes, so neither counts again (docs/markers.md).
 */
function reborn(st: MarkerStat, location: MarkerLocation, fs: MarkerFs): boolean {
  if (st.ctimeMs !== st.mtimeMs || !((st.birthtimeMs ?? 0) < st.mtimeMs)) return false;
  const dir = `${location.tree}/${location.path}`;
  const folder = fs.stat(dir);
  const born = folder?.birthtimeMs ?? 0;
  // yarn 4 gives what it extracts (nodeLinker pnpm's .store/<x>/package folder too) its fixed time, 456789000 s (1984).
  return born > st.mtimeMs && (born <= folder!.mtimeMs || folder!.mtimeMs === 456789e6) && (fs.stat(`${dir}/package.json`)?.ctimeMs ?? 0) >= born;
}

/**
 * The package path a reported marker recorded (finish()), or undefined: empty
 * (in flight), unreadable, not JSON, or no path.
 */
function recordedPath(file: string, fs: MarkerFs): string | undefined {
  // Equivalent mutants: `?.path` as `.path` (a marker holding JSON null then
  // throws into the catch, which answers undefined all the same), the `''`
  // fallback (any text that is not JSON throws alike) and an empty catch block
  // (undefined either way).
  try {
    const recorded = (JSON.parse(fs.read(file) ?? '') as { path?: unknown } | null)?.path;
    return typeof recorded === 'string' ? recorded : undefined;
  } catch {
    return undefined; // empty, unreadable or not ours
  }
}

/** Was the marker's report recorded by a copy at another path in the tree? Read only when this copy is newer than the marker. */
function recordedElsewhere(location: MarkerLocation, fs: MarkerFs): boolean {
  const recorded = recordedPath(location.file, fs);
  return recorded !== undefined && recorded !== location.path; // unreadable or not ours: judge by the times alone
}

/** The marker's state for a copy whose package.json has mtime `pkgMtimeMs`. */
export function markerState(location: MarkerLocation, fs: MarkerFs, now: number, pkgMtimeMs: number): MarkerState {
  return stateOf(fs.stat(location.file), now, pkgMtimeMs, location, fs);
}

/** Reported, or being reported right now: either way, not this caller's job. */
export function isReported(location: MarkerLocation, fs: MarkerFs, now: number, pkgMtimeMs: number): boolean {
  const state = markerState(location, fs, now, pkgMtimeMs);
  return state === 'reported' || state === 'in-flight';
}

/**
 * Is the package folder older than the file system that shows it? It was born
 * before the root of its mount (the highest folder above it on the same
 * device): an image layer seen through a container's overlay, whose upper
 * layer, and any marker written into it, dies with the container. There a
 * runtime claim would count every container start (issue 19), so none is
 * made, as where the tree is read-only. False where no birth times are kept.
 */
export function underFreshLayer(pkgDir: string, fs: MarkerFs): boolean {
  let st = fs.stat(pkgDir);
  const born = st?.birthtimeMs;
  if (!born) return false;
  for (let dir = pkgDir, up; (up = dir.replace(/[\\/][^\\/]*$/, '') || '/') !== dir; dir = up) {
    const next = fs.stat(up);
    if (next?.dev !== st!.dev) break;
    st = next;
  }
  return born < st!.birthtimeMs!;
}

export type Claim = { result: 'claimed'; location: MarkerLocation } | { result: 'taken' | 'unwritable' };

/**
 * Claim the right to report this install. 'claimed': the caller sends, then
 * calls finish() or retryLater(); 'taken': someone already did (or is doing
 * it); 'unwritable': no marker can be kept in this tree.
 */
export function claim(location: MarkerLocation | undefined, fs: MarkerFs, now: number, pkgMtimeMs: number): Claim {
  if (!location) return { result: 'unwritable' };
  let result = fs.createExclusive(location.file, '');
  if (result === 'failed' && fs.mkdirp(location.dir)) result = fs.createExclusive(location.file, '');
  if (result === 'created') return { result: 'claimed', location };
  if (result === 'failed') return { result: 'unwritable' };
  // It exists: take it over only if it is stale or outdated, and only if this caller wins the takeover.
  const due = () => /^(stale|outdated)$/.test(stateOf(fs.stat(location.file), now, pkgMtimeMs, location, fs));
  if (!due()) return { result: 'taken' };
  for (let n = 0; ; n++) {
    const lock = `${location.file}.${n}.takeover`;
    const locked = fs.createExclusive(lock, '');
    if (locked === 'failed') return { result: 'unwritable' };
    // Another takeover in progress; or one whose process died holding it: expired, the next lock decides.
    if (locked === 'exists') {
      if (now - (fs.stat(lock)?.mtimeMs ?? now) < LOCK_EXPIRES_MS) return { result: 'taken' };
      continue;
    }
    // Won: the marker as it is now decides, and the lock (a fresh empty file) becomes the claim in one rename.
    if (!due()) {
      fs.remove(lock);
      return { result: 'taken' };
    }
    if (!fs.rename(lock, location.file)) {
      fs.remove(lock);
      return { result: 'unwritable' };
    }
    while (n--) fs.remove(`${location.file}.${n}.takeover`); // the expired ones: their holders are dead
    return { result: 'claimed', location };
  }
}

/** Record the outcome: the install counts as reported from now on. */
export function finish(location: MarkerLocation, fs: MarkerFs, outcome: { trigger: string; status?: number; at: number }): void {
  const record: Record<string, unknown> = { trigger: outcome.trigger, status: outcome.status, at: new Date(outcome.at).toISOString() };
  // Equivalent mutant: `if (true)` sets `path: undefined`, which JSON.stringify leaves out.
  if (location.path) record.path = location.path;
  fs.write(location.file, JSON.stringify(record) + '\n');
}

/** Not delivered, worth another try: keep the claim empty and restart its clock, so the next try waits RETRY_AFTER_MS. */
export function retryLater(location: MarkerLocation, fs: MarkerFs): void {
  fs.write(location.file, '');
}

/**
 * Remove the markers of packages that are gone from this tree (`npm uninstall
 * -g` leaves its marker behind): each reported marker records its package's
 * path in the tree; when no package.json is there any more and no other copy
 * of that name@version is left in the tree (a second nested copy, under a
 * parent that stays: issue 19), the marker goes. Called after a send, never
 * on the skip path. `exists` is a file probe.
 */
export function pruneGone(location: MarkerLocation, fs: MarkerFs, exists: (path: string) => boolean): number {
  if (!location.tree) return 0;
  const tree = location.tree.replace(/[\\/]$/, '');
  let removed = 0;
  for (const name of fs.list(location.dir)) {
    if (!name.endsWith('.json')) continue;
    const file = `${location.dir}/${name}`;
    if (file === location.file) continue;
    const rel = recordedPath(file, fs);
    // Empty (in flight), not ours to judge, or a path that leaves the tree: left alone.
    if (rel === undefined || rel.split('/').includes('..')) continue;
    if (!exists(`${tree}/${rel}/package.json`) && !copyIn(`${tree}/node_modules`, rel.slice(rel.lastIndexOf('node_modules/') + 13), file, location.dir, fs, 0)) {
      fs.remove(file);
      removed++;
    }
  }
  return removed;
}

/**
 * Is a copy whose marker is `file` still in the node_modules folder `nm`, or
 * nested under its packages (and pnpm's .pnpm), at most 8 levels down?
 * `folder` is the package's folder name (`@scope/name` when scoped).
 */
function copyIn(nm: string, folder: string, file: string, dir: string, fs: MarkerFs, depth: number): boolean {
  try {
    const pkg = JSON.parse(fs.read(`${nm}/${folder}/package.json`) ?? '') as { name?: unknown; version?: unknown };
    if (markerLocation({ markerDir: dir }, String(pkg.name), String(pkg.version)).file === file) return true;
  } catch {
    // No copy here (or not one that parses): look further down.
  }
  return depth < 8 && fs.list(nm).some((e) => (/^(@|\.pnpm$)/.test(e) ? fs.list(`${nm}/${e}`).map((s) => `${e}/${s}`) : [e]).some((p) => copyIn(`${nm}/${p}/node_modules`, folder, file, dir, fs, depth + 1)));
}
