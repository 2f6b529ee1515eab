const fs = require('fs') as typeof import('fs'); // not `import * as`: see NAMESPACE_COPY in scripts/build.mjs
import isDocker from 'is-docker';
import { parseJson, str } from './config.js';
import type { DecideProbes } from './decide.js';
import type { PnpApi } from './direct.js';
import type { MarkerFs } from './marker.js';

// The real file probes. Each one catches and answers "no": a probe that cannot
// look is treated as finding nothing, never as an error.

/**
 * The largest file the probes read (10 MB): far above any real package.json or
 * lockfile-side YAML (a 20,000-package tree's .modules.yaml is about 1 MB), and
 * small enough to parse at once. A 67 MB package.json above a project took 9 s.
 */
export const MAX_TEXT_BYTES = 1e7;

/**
 * A regular file's text, up to MAX_TEXT_BYTES; undefined for anything else.
 * The workspace-root walk reads every ancestor's package.json, and another user
 * may have put anything there: a FIFO (open would wait for a writer forever), a
 * link to /dev/zero (a read never ends). So: stat first (no device is ever
 * opened), open with O_NONBLOCK (a FIFO swapped in meanwhile opens at once, and
 * the fstat then refuses it), read by descriptor only what fstat measured.
 * Under Yarn PnP a zip's virtual descriptor supports fstat and read.
 */
function readText(path: string): string | undefined {
  const fits = (s: import('fs').Stats) => s.isFile() && s.size <= MAX_TEXT_BYTES;
  try {
    if (!fits(fs.statSync(path))) return undefined;
  } catch {
    return undefined;
  }
  // no O_NONBLOCK on Windows: undefined | n is n
  return withFile(path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK, (fd) => {
    const st = fs.fstatSync(fd);
    if (!fits(st)) return undefined;
    const buffer = Buffer.allocUnsafe(st.size);
    return buffer.toString('utf8', 0, fs.readSync(fd, buffer, 0, st.size, 0));
  });
}

/** `read` on the file opened with `flags`, closed after; undefined where opening or reading fails. */
function withFile<T>(path: string, flags: number | string, read: (fd: number) => T | undefined): T | undefined {
  let fd: number | undefined;
  try {
    fd = fs.openSync(path, flags);
    return read(fd);
  } catch {
    return undefined;
  } finally {
    try {
      if (fd !== undefined) fs.closeSync(fd);
    } catch {
      // What was read is read; a failed close leaks nothing this short-lived process keeps.
    }
  }
}

export const realProbes: DecideProbes = {
  exists(path) {
    try {
      fs.statSync(path);
      return true;
    } catch {
      return false;
    }
  },
  readText,
  readJson(path) {
    try {
      return parseJson(readText(path)!);
    } catch {
      return undefined; // missing, not a file, too large, or malformed: the caller treats it as absent
    }
  },
  readBytes(path, max) {
    return withFile(path, 'r', (fd) => {
      // No fstat for the size (its first call costs 0.1 ms): a short file just reads less, and the untouched rest of an uninitialised buffer costs nothing.
      const buffer = Buffer.allocUnsafe(max);
      const n = fs.readSync(fd, buffer, 0, max, 0);
      return n < max ? buffer.subarray(0, n) : buffer;
    });
  },
  listDir(path) {
    try {
      return fs.readdirSync(path);
    } catch {
      return [];
    }
  },
  isDocker() {
    try {
      return isDocker();
    } catch {
      return false;
    }
  },
  pnpFileFor,
  realpath(path) {
    try {
      return fs.realpathSync.native(path);
    } catch {
      return undefined;
    }
  },
  pnpApiFor,
  isDeno,
};

/** Is this process Deno (its npm cache is a layout of its own)? */
export function isDeno(): boolean {
  return 'Deno' in globalThis; // globalThis: Node 12+, as `engines` says
}

export const realMarkerFs: MarkerFs = {
  mkdirp(dir) {
    try {
      fs.mkdirSync(dir, { recursive: true });
      return true;
    } catch {
      return false;
    }
  },
  createExclusive(file, content) {
    let fd: number;
    try {
      fd = fs.openSync(file, 'wx', 0o644);
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'EEXIST' ? 'exists' : 'failed';
    }
    try {
      fs.writeSync(fd, content);
    } catch {
      // The claim is the file's existence; its content is informational only.
    }
    try {
      fs.closeSync(fd);
    } catch {
      // Nothing to recover: the claim is already made.
    }
    return 'created';
  },
  stat(file) {
    try {
      return fs.statSync(file);
    } catch {
      return undefined;
    }
  },
  read(file) {
    try {
      return fs.readFileSync(file, 'utf8');
    } catch {
      return undefined;
    }
  },
  write(file, content) {
    try {
      fs.writeFileSync(file, content);
      return true;
    } catch {
      return false;
    }
  },
  remove(file) {
    try {
      fs.unlinkSync(file);
    } catch {
      // Already gone, or not ours to remove: either way nothing more to do.
    }
  },
  list(dir) {
    try {
      return fs.readdirSync(dir);
    } catch {
      return [];
    }
  },
  rename(from, to) {
    try {
      fs.renameSync(from, to);
      return true;
    } catch {
      return false;
    }
  },
};

/**
 * A package.json's name, version and mtime (the runtime skip path); undefined
 * when unreadable. By path, not by descriptor: under Yarn PnP a package in a
 * zip has a virtual descriptor that readFileSync(fd) cannot read (EBADF).
 */
export function readPackageJson(file: string): { name: string; version: string; mtimeMs: number } | undefined {
  try {
    const pkg = parseJson(readText(file)!) as { name?: unknown; version?: unknown } | null;
    return { name: str(pkg?.name) ?? 'unknown', version: str(pkg?.version) ?? 'unknown', mtimeMs: fs.statSync(file).mtimeMs };
  } catch {
    return undefined; // missing, unreadable or malformed: not a package this can report
  }
}

/** The PnP runtime's API for `path` (it adds findPnpApi to the module builtin); undefined outside PnP. May throw. */
type PnpRuntime = PnpApi & { resolveToUnqualified(request: string, issuer: string): string | null };
function findPnpApi(path: string): PnpRuntime | undefined {
  if (!process.versions.pnp) return undefined;
  return (require('module') as { findPnpApi?: (p: string) => PnpRuntime | null }).findPnpApi?.(path) ?? undefined;
}

/**
 * Under Yarn PnP, the .pnp.cjs that serves `path` in this process: PnP's
 * runtime adds findPnpApi to the module builtin, and its resolution of the
 * request "pnpapi" is that file (https://yarnpkg.com/advanced/pnpapi). Packages
 * in yarn 4's global cache (~/.yarn/berry/cache, the default) name no project
 * in their path; this is how their project is found.
 */
export function pnpFileFor(path: string): string | undefined {
  try {
    return findPnpApi(path)?.resolveToUnqualified('pnpapi', `${path}/`) ?? undefined;
  } catch {
    return undefined; // not under PnP, or an API this version does not have: no project known
  }
}

/** Under Yarn PnP, the PnP API that serves `path` in this process ({direct} asks it which workspaces depend on a package). */
export function pnpApiFor(path: string): PnpApi | undefined {
  try {
    return findPnpApi(path);
  } catch {
    return undefined; // not under PnP, or an API this version does not have: {direct} reads the manifest instead
  }
}

/** realpath, or the path itself when it cannot be resolved. */
export function realDir(path: string): string {
  try {
    return fs.realpathSync(path);
  } catch {
    return path;
  }
}
