import { spawn } from 'node:child_process';

// Every process the matrix starts goes through here. Each runs in its own
// process group (detached), so a package manager's children (the postinstall
// hooks, pnpm's workers) die with it: on a timeout, on failure, and in the
// final cleanup, which kills by PID whatever is still alive.

export interface Result {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  ms: number;
  timedOut: boolean;
}

const live = new Set<number>();

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(process.platform === 'win32' ? pid : -pid, signal);
  } catch {
    // Already gone: nothing to kill.
  }
}

export function exec(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<Result> {
  return new Promise((resolve) => {
    const started = Date.now();
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'], detached: process.platform !== 'win32' });
    const pid = child.pid;
    if (pid) live.add(pid);
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      if (pid) killGroup(pid, 'SIGKILL');
    }, options.timeoutMs ?? 180_000);
    const done = (code: number | null, signal: string | null, extra = '') => {
      clearTimeout(timer);
      // Leftovers of the group (a detached sender would be one) do not outlive the step.
      if (pid) {
        killGroup(pid, 'SIGKILL');
        live.delete(pid);
      }
      resolve({ code, signal, stdout, stderr: stderr + extra, ms: Date.now() - started, timedOut });
    };
    child.on('error', (e) => done(null, null, `spawn failed: ${e.message}`));
    child.on('close', (code, signal) => done(code, signal));
  });
}

/** Kill (by PID, with their process groups) every process still running. */
export function killAll(): number {
  let n = 0;
  for (const pid of live) {
    killGroup(pid, 'SIGKILL');
    n++;
  }
  live.clear();
  return n;
}

/** Track a long-running process started elsewhere (the registry) so killAll() reaches it. */
export function track(pid: number | undefined): void {
  if (pid) live.add(pid);
}

export function untrack(pid: number | undefined): void {
  if (pid) live.delete(pid);
}
