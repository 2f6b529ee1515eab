import { execFileSync, spawn, type SpawnOptions } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url)).replace(/[\\/]$/, '');
export const BIN = join(ROOT, 'dist/bin.cjs');

/** Every variable that changes install-beacon's decision or context: removed from the base env so each test states what it means. */
const CONTEXT_VARS = /^(DO_NOT_TRACK|SCARF_.*|INSTALL_BEACON_.*|CI|CONTINUOUS_INTEGRATION|BUILD_.*|RUN_ID|GITHUB_.*|GITLAB_.*|CI_.*|TF_BUILD|JENKINS_.*|KUBERNETES_.*|npm_.*|INIT_CWD|HTTPS?_PROXY|NO_PROXY|https?_proxy|no_proxy|XDG_.*)$/;

/** A clean environment for a spawned process: PATH and CA settings kept, HOME pointed at a temp dir. */
export function baseEnv(home: string, extra: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !CONTEXT_VARS.test(k)) env[k] = v;
  env.HOME = home;
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Spawn and wait; kills the process (by PID) if it outlives `timeoutMs`. */
export function run(command: string, args: string[], options: SpawnOptions & { timeoutMs?: number; input?: string } = {}): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const started = Date.now();
    const child = spawn(command, args, { ...options, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
    // A child that exits before reading stdin closes the pipe: EPIPE here is expected, not a test failure.
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(options.input ?? '');
  });
}

/** Run the built bin with node. */
export function runBin(args: string[], options: SpawnOptions & { timeoutMs?: number } = {}): Promise<RunResult> {
  return run(process.execPath, [BIN, ...args], options);
}

/** Temp dirs removed by cleanup(). */
export class TempDirs {
  private dirs: string[] = [];
  make(prefix = 'ib-test-'): string {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    this.dirs.push(dir);
    return dir;
  }
  cleanup(): void {
    for (const dir of this.dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  }
  /** A fresh project folder (a private package.json with `pkg`, and `files` beside it) and a HOME of its own, so no store or cache is shared between cases. */
  project(prefix: string, pkg: Record<string, unknown> = {}, files: Record<string, string> = {}): { dir: string; home: string } {
    const root = this.make(prefix);
    const dir = join(root, 'proj');
    mkdirSync(dir);
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'proj', version: '1.0.0', private: true, ...pkg }));
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    return { dir, home: join(root, 'home') };
  }
}

/**
 * PIDs of running install-beacon background senders (`bin.cjs __send <job>`)
 * whose command line contains `needle` (e.g. a collector's host:port). Linux
 * reads /proc; macOS asks ps; Windows asks CIM for each command line.
 */
export function senderPids(needle: string): number[] {
  const lines: Array<[number, string]> = [];
  if (existsSync('/proc/self/cmdline')) {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        lines.push([Number(entry), readFileSync(`/proc/${entry}/cmdline`, 'latin1')]);
      } catch {
        // exited while we looked
      }
    }
  } else {
    const out =
      process.platform === 'win32'
        ? execFileSync('powershell.exe', ['-NoProfile', '-Command', 'Get-CimInstance Win32_Process | ForEach-Object { "$($_.ProcessId) $($_.CommandLine)" }'], { encoding: 'utf8' })
        : execFileSync('ps', ['-Aww', '-o', 'pid=,command='], { encoding: 'utf8' });
    for (const line of out.split(/\r?\n/)) {
      const m = /^\s*(\d+)\s(.*)$/.exec(line);
      if (m) lines.push([Number(m[1]), m[2]!]);
    }
  }
  return lines.filter(([pid, cmd]) => pid !== process.pid && cmd.includes('__send') && cmd.includes(needle)).map(([pid]) => pid);
}

/**
 * Wait until every background sender naming `needle` has exited (a sender
 * exits once it has its answer or its 10 s deadline passed). Throws after
 * `ms`, killing (by PID) any still running.
 */
export async function sendersDone(needle: string, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  let left = senderPids(needle);
  while (left.length > 0 && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 50));
    left = senderPids(needle);
  }
  for (const pid of left) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  if (left.length > 0) throw new Error(`background senders for ${needle} still running after ${ms} ms: ${left.join(', ')}`);
}
