const fs = require('fs') as typeof import('fs'); // not `import * as`: see NAMESPACE_COPY in scripts/build.mjs
import isDocker from 'is-docker';
import type { DecideProbes } from './decide.js';
import type { MarkerFs } from './marker.js';

// The real file probes. Each one catches and answers "no": a probe that cannot
// look is treated as finding nothing, never as an error.

export const realProbes: DecideProbes = {
  exists(path) {
    try {
      fs.statSync(path);
      return true;
    } catch {
      return false;
    }
  },
  readText(path) {
    try {
      return fs.readFileSync(path, 'utf8');
    } catch {
      return undefined;
    }
  },
  readJson(path) {
    try {
      return JSON.parse(fs.readFileSync(path, 'utf8')) as unknown;
    } catch {
      return undefined; // missing, a directory, or malformed: the caller treats it as absent
    }
  },
  readBytes(path, max) {
    let fd: number | undefined;
    try {
      fd = fs.openSync(path, 'r');
      const buffer = Buffer.alloc(Math.min(max, fs.fstatSync(fd).size));
      return buffer.subarray(0, fs.readSync(fd, buffer, 0, buffer.length, 0));
    } catch {
      return undefined;
    } finally {
      try {
        if (fd !== undefined) fs.closeSync(fd);
      } catch {
        // The bytes are read; a failed close leaks nothing this short-lived process keeps.
      }
    }
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
};

export const realMarkerFs: MarkerFs = {
  signature(file) {
    try {
      const st = fs.statSync(file);
      return `${st.dev}.${st.ino}.${Math.round(st.birthtimeMs || 0)}.${Math.round(st.mtimeMs)}.${st.size}`;
    } catch {
      return undefined;
    }
  },
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
      const st = fs.statSync(file);
      return { size: st.size, mtimeMs: st.mtimeMs };
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
  rename(from, to) {
    try {
      fs.renameSync(from, to);
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
};

/** realpath, or the path itself when it cannot be resolved. */
export function realDir(path: string): string {
  try {
    return fs.realpathSync(path);
  } catch {
    return path;
  }
}
