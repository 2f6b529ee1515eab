import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';

// Timing, statistics, leftover processes and the black-hole endpoint.

export interface Timed {
  /** Wall time from spawn() to the 'exit' event, in ms. */
  ms: number;
  pid: number;
  code: number | null;
  stderr: string;
}

export interface TimeOptions {
  cwd: string;
  env: Record<string, string>;
  /** Kill (by PID) after this long; the run then counts as failed. */
  killAfterMs?: number;
}

/**
 * Spawn and time one process, spawn to exit. stdio is piped, as npm does for
 * lifecycle scripts (without --foreground-scripts): that decides what
 * process.stdout/stderr cost the hook to touch.
 */
export function timeSpawn(command: string, args: string[], options: TimeOptions): Promise<Timed> {
  return new Promise((resolve, reject) => {
    let stderr = '';
    let exitedAt: bigint | undefined;
    let code: number | null = null;
    const started = process.hrtime.bigint();
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: 'pipe' });
    child.stdout.resume();
    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < 4000) stderr += d.toString();
    });
    child.stdin.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), options.killAfterMs ?? 60_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('exit', (c) => {
      exitedAt = process.hrtime.bigint();
      code = c;
    });
    child.on('close', () => {
      clearTimeout(timer);
      const end = exitedAt ?? process.hrtime.bigint();
      resolve({ ms: Number(end - started) / 1e6, pid: child.pid ?? -1, code, stderr });
    });
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------ statistics

export function quantile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export const median = (values: number[]): number => quantile(values, 0.5);

// ------------------------------------------------------------ leftovers

/** Alive (not zombie) processes whose command line contains `tag` or whose cwd lies under it. */
export function processesTagged(tag: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (/\) Z /.test(stat)) continue; // exited, waiting to be reaped
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      let cwd = '';
      try {
        cwd = readlinkSync(`/proc/${pid}/cwd`);
      } catch {
        // Not ours to inspect: the command line decides alone.
      }
      if (cmdline.includes(tag) || cwd.startsWith(tag)) found.push(pid);
    } catch {
      // The process ended while we looked: nothing to do.
    }
  }
  return found;
}

/** Wait until no process is tagged, up to `ms`; then kill the rest by PID. Returns how many had to be killed. */
export async function settleTagged(tag: string, ms: number): Promise<number> {
  const end = Date.now() + ms;
  let pids = processesTagged(tag);
  while (pids.length > 0 && Date.now() < end) {
    await sleep(10);
    pids = processesTagged(tag);
  }
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  for (let i = 0; i < 200 && processesTagged(tag).length > 0; i++) await sleep(10);
  return pids.length;
}

// ------------------------------------------------------------ black hole

export interface BlackHole {
  port: number;
  /** Connections accepted so far. */
  accepted: number;
  /** Destroy every open connection (between runs). */
  drop(): void;
  close(): Promise<void>;
}

/** A TCP server on 127.0.0.1 that accepts connections and never answers. */
export async function startBlackHole(): Promise<BlackHole> {
  const sockets = new Set<net.Socket>();
  const state = { accepted: 0 };
  const server = net.createServer((socket) => {
    state.accepted++;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    socket.resume(); // read and discard whatever arrives
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const drop = () => {
    for (const socket of sockets) socket.destroy();
    sockets.clear();
  };
  return {
    port: (server.address() as AddressInfo).port,
    get accepted() {
      return state.accepted;
    },
    drop,
    close: () =>
      new Promise<void>((resolve) => {
        drop();
        server.close(() => resolve());
      }),
  };
}
