import type { DecideProbes } from '../../src/decide.js';
import type { MarkerFs } from '../../src/marker.js';

/** An in-memory file system for the pure modules: probes, marker fs, and a log of every call. */
export class MemFs {
  files = new Map<string, string>();
  dirs = new Set<string>();
  readOnly = new Set<string>();
  calls: string[] = [];
  mtimes = new Map<string, number>();
  /** Symbolic links: link path → absolute target, followed by every probe. */
  links = new Map<string, string>();
  /** The fake clock: the mtime given to files written from now on. */
  clock = 0;

  constructor(files: Record<string, unknown> = {}) {
    for (const [path, content] of Object.entries(files)) this.write(path, typeof content === 'string' ? content : JSON.stringify(content));
  }

  write(path: string, content: string): void {
    this.files.set(path, content);
    this.mtimes.set(path, this.clock);
    let dir = path;
    while ((dir = dir.slice(0, dir.lastIndexOf('/'))) && dir.length > 0) this.dirs.add(dir);
  }

  /** `path` with every symbolic link in it followed. */
  resolve(path: string): string {
    for (let hops = 0; hops < 32; hops++) {
      const link = [...this.links.keys()].find((l) => path === l || path.startsWith(`${l}/`));
      if (!link) return path;
      path = this.links.get(link)! + path.slice(link.length);
    }
    return path;
  }

  probes(docker = false): DecideProbes {
    return {
      // `a/b/../c` is `a/c`, as the real file system resolves it.
      exists: (p) => (this.calls.push(`exists ${p}`), this.files.has(this.resolve(resolveDots(p))) || this.dirs.has(this.resolve(resolveDots(p)))),
      readText: (p) => (this.calls.push(`readText ${p}`), this.files.get(this.resolve(p))),
      realpath: (p) => {
        this.calls.push(`realpath ${p}`);
        const real = this.resolve(p);
        return this.files.has(real) || this.dirs.has(real) ? real : undefined;
      },
      readJson: (p) => {
        this.calls.push(`readJson ${p}`);
        const text = this.files.get(this.resolve(p));
        try {
          return text === undefined ? undefined : (JSON.parse(text) as unknown);
        } catch {
          return undefined;
        }
      },
      readBytes: (p, max) => {
        this.calls.push(`readBytes ${p}`);
        const text = this.files.get(this.resolve(p));
        return text === undefined ? undefined : Buffer.from(text, 'latin1').subarray(0, max);
      },
      listDir: (p) => {
        this.calls.push(`listDir ${p}`);
        const dir = this.resolve(p);
        const names = [...this.files.keys(), ...this.links.keys()].filter((f) => f.startsWith(`${dir}/`)).map((f) => f.slice(dir.length + 1).split('/')[0]!);
        return [...new Set(names)];
      },
      isDocker: () => (this.calls.push('isDocker'), docker),
    };
  }

  markerFs(): MarkerFs {
    return {
      mkdirp: (dir) => {
        this.calls.push(`mkdirp ${dir}`);
        if ([...this.readOnly].some((r) => dir.startsWith(r))) return false;
        this.dirs.add(dir);
        return true;
      },
      createExclusive: (file, content) => {
        this.calls.push(`create ${file}`);
        const dir = file.slice(0, file.lastIndexOf('/'));
        if (this.files.has(file)) return 'exists';
        if (!this.dirs.has(dir) || [...this.readOnly].some((r) => file.startsWith(r))) return 'failed';
        this.write(file, content);
        return 'created';
      },
      stat: (file) => {
        this.calls.push(`stat ${file}`);
        const content = this.files.get(file);
        return content === undefined ? undefined : { size: Buffer.byteLength(content), mtimeMs: this.mtimes.get(file) ?? 0 };
      },
      write: (file, content) => {
        this.calls.push(`write ${file}`);
        if (!this.files.has(file) && !this.dirs.has(file.slice(0, file.lastIndexOf('/')))) return false;
        if ([...this.readOnly].some((r) => file.startsWith(r))) return false;
        this.write(file, content);
        return true;
      },
      read: (file) => (this.calls.push(`read ${file}`), this.files.get(file)),
      list: (dir) => {
        this.calls.push(`list ${dir}`);
        // Files and folders, as readdir lists them.
        return [...this.files.keys(), ...this.dirs].filter((f) => f.startsWith(`${dir}/`) && !f.slice(dir.length + 1).includes('/')).map((f) => f.slice(dir.length + 1));
      },
      remove: (file) => {
        this.calls.push(`remove ${file}`);
        this.files.delete(file);
      },
      rename: (from, to) => {
        this.calls.push(`rename ${from} ${to}`);
        const content = this.files.get(from);
        if (content === undefined || [...this.readOnly].some((r) => to.startsWith(r))) return false;
        this.files.set(to, content);
        this.mtimes.set(to, this.mtimes.get(from) ?? 0);
        this.files.delete(from);
        return true;
      },
    };
  }
}

/** A path with each `<segment>/..` removed. */
function resolveDots(path: string): string {
  if (!path.includes('/..')) return path;
  let prev: string;
  do {
    prev = path;
    path = path.replace(/[^/]+\/\.\.(\/|$)/, '');
  } while (path !== prev);
  return path.replace(/\/$/, '') || '/';
}
