import type { DecideProbes } from '../../src/decide.js';
import type { MarkerFs } from '../../src/marker.js';

/** An in-memory file system for the pure modules: probes, marker fs, and a log of every call. */
export class MemFs {
  files = new Map<string, string>();
  dirs = new Set<string>();
  readOnly = new Set<string>();
  calls: string[] = [];
  signatures = new Map<string, string>();

  constructor(files: Record<string, unknown> = {}) {
    for (const [path, content] of Object.entries(files)) this.write(path, typeof content === 'string' ? content : JSON.stringify(content));
  }

  write(path: string, content: string): void {
    this.files.set(path, content);
    let dir = path;
    while ((dir = dir.slice(0, dir.lastIndexOf('/'))) && dir.length > 0) this.dirs.add(dir);
  }

  probes(docker = false): DecideProbes {
    return {
      exists: (p) => (this.calls.push(`exists ${p}`), this.files.has(p) || this.dirs.has(p)),
      readText: (p) => (this.calls.push(`readText ${p}`), this.files.get(p)),
      readJson: (p) => {
        this.calls.push(`readJson ${p}`);
        const text = this.files.get(p);
        try {
          return text === undefined ? undefined : (JSON.parse(text) as unknown);
        } catch {
          return undefined;
        }
      },
      listDir: (p) => (this.calls.push(`listDir ${p}`), [...this.files.keys()].filter((f) => f.startsWith(`${p}/`)).map((f) => f.slice(p.length + 1).split('/')[0]!)),
      isDocker: () => (this.calls.push('isDocker'), docker),
    };
  }

  markerFs(): MarkerFs {
    return {
      dirSignature: (dir) => (this.calls.push(`sig ${dir}`), this.signatures.get(dir) ?? (this.dirs.has(dir) ? '1.2.3' : undefined)),
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
      exists: (file) => (this.calls.push(`exists ${file}`), this.files.has(file)),
      remove: (file) => {
        this.calls.push(`remove ${file}`);
        this.files.delete(file);
      },
    };
  }
}
