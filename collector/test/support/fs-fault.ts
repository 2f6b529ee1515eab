import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBin, type Proc } from './bin.js';

// Real file-system faults for a collector process: its data directory is a file
// system of its own, mounted in a private mount namespace (`unshare --mount`), so
// nothing outside the test sees it and it goes away with the process:
// - 'ext4': a loop-mounted ext4 image, which `fsfreeze` can freeze (tmpfs cannot be frozen);
// - 'tmpfs': a small tmpfs, which a filler file makes full.
// Needs root, unshare, nsenter, mount (and fsfreeze, mkfs.ext4, a loop device for ext4).

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

function probe(kind: 'ext4' | 'tmpfs'): string | undefined {
  if (process.platform !== 'linux') return 'Linux only';
  if (process.getuid?.() !== 0) return 'needs root (mount namespaces and mount)';
  for (const c of ['unshare', 'nsenter', 'mount', ...(kind === 'ext4' ? ['fsfreeze', 'mkfs.ext4'] : [])]) if (!has(c)) return `needs ${c}`;
  const d = mkdtempSync(join(tmpdir(), 'ibc-nsprobe-'));
  try {
    const mount = kind === 'ext4' ? `truncate -s 8M ${d}/img && mkfs.ext4 -q ${d}/img && mkdir ${d}/m && mount -o loop ${d}/img ${d}/m` : `mkdir ${d}/m && mount -t tmpfs -o size=1m tmpfs ${d}/m`;
    const r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', mount], { encoding: 'utf8', timeout: 20_000 });
    return r.status === 0 ? undefined : `cannot mount ${kind} in a mount namespace here: ${(r.stderr || r.error?.message || '').trim()}`;
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
}

/** Why the ext4 (freezable) or tmpfs (fillable) tests cannot run here, or undefined when they can. */
export const ext4Skip = probe('ext4');
export const tmpfsSkip = probe('tmpfs');

export interface FsCollector {
  proc: Proc;
  /** The mounted directory (inside the collector's namespace). */
  dir: string;
  /** Run a command inside the collector's mount namespace. */
  inside(cmd: string, args: string[]): string;
  freeze(): void;
  thaw(): void;
}

/**
 * Start the built collector with its data directory `dir` (created under `base`) on a file system of
 * its own; `args(dir)` gives its arguments.
 */
export async function startOnOwnFs(kind: 'ext4' | 'tmpfs', base: string, args: (dir: string) => string[], env: Record<string, string | undefined>, sizeMb = 64): Promise<FsCollector> {
  const dir = join(base, 'data');
  mkdirSync(dir);
  const img = join(base, 'fs.img');
  if (kind === 'ext4') execFileSync('sh', ['-c', `truncate -s ${sizeMb}M "$0" && mkfs.ext4 -q "$0"`, img]);
  const mount = kind === 'ext4' ? `mount -o loop "${img}" "${dir}"` : `mount -t tmpfs -o size=${sizeMb}m tmpfs "${dir}"`;
  // sh execs the collector ("$0" is node, "$@" the bundle and its arguments), so the PID is the collector's.
  const proc = await startBin(args(dir), env, undefined, ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', `${mount} && exec "$0" "$@"`]);
  const pid = String(proc.child.pid);
  const inside = (cmd: string, a: string[]) => execFileSync('nsenter', ['--target', pid, '--mount', cmd, ...a], { encoding: 'utf8' });
  return { proc, dir, inside, freeze: () => void inside('fsfreeze', ['-f', dir]), thaw: () => void inside('fsfreeze', ['-u', dir]) };
}
