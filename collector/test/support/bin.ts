import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../dist/bin.cjs', import.meta.url));

export interface Proc {
  child: ChildProcess;
  url: string;
  lines: string[];
  stderr(): string;
  /** SIGTERM (or the given signal) by PID, and wait for the exit. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const live = new Set<ChildProcess>();

/**
 * Start the built collector as a real process; resolves on its first stdout line (the listening line).
 * `prefix`: a command that execs it (e.g. `prlimit --nofile=160 --`), so the PID stays the collector's.
 */
export function startBin(args: string[], env: Record<string, string | undefined>, cwd?: string, prefix: string[] = []): Promise<Proc> {
  const argv = [...prefix, process.execPath, BIN, ...args];
  const child = spawn(argv[0]!, argv.slice(1), { cwd, env: env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  child.once('exit', () => live.delete(child));
  const lines: string[] = [];
  let err = '';
  let buf = '';
  child.stderr!.on('data', (d) => (err += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the collector did not start in 30 s: ${err}`));
    }, 30_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the collector exited (${code}) before listening: ${err}`));
    });
    child.stdout!.on('data', (d) => {
      buf += d;
      const parts = buf.split('\n');
      buf = parts.pop()!;
      lines.push(...parts);
      const m = /^install-beacon-collector listening on (https?:\/\/\S+)$/.exec(lines[0] ?? '');
      if (m && lines.some((l) => l.startsWith('dashboard: '))) {
        clearTimeout(timer);
        resolve({
          child,
          url: m[1]!,
          lines,
          stderr: () => err,
          stop: (signal = 'SIGTERM') =>
            new Promise((res) => {
              if (child.exitCode !== null || child.signalCode !== null) return res(child.exitCode);
              child.once('exit', (code) => res(code));
              child.kill(signal);
            }),
        });
      }
    });
  });
}

/** Kill (by PID) every collector still running. */
export function killAll(): void {
  for (const c of live) c.kill('SIGKILL');
}
