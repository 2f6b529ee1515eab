import { spawn, spawnSync, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir, userInfo } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { expect, it } from 'vitest';
import { baseEnv, BIN, ROOT } from '../support/process.js';
import { TLS_TARGETS, WIRE } from './servers.js';

// The fault suite's harness: a fake installed tree per case, the real built
// bin spawned in it, and the checks every case shares (exit 0, a blocking-time
// bound, silence, no stray files, the events counted, nothing private sent).

export { BIN, ROOT };

/** Values that must never appear in any byte sent anywhere (see privacy checks). */
export const CANARY = `canary-${randomBytes(6).toString('hex')}`;
export const ROOT_PROJECT_NAME = `secret-root-project-${randomBytes(4).toString('hex')}`;

/**
 * Slack on every blocking-time bound: one second (speed belongs to the
 * benchmark). FAULTS_SLACK_MS raises it on a machine shared with other heavy
 * work, where Node's own start-up can take a second; CI uses the default.
 */
export const SLACK_MS = Number(process.env.FAULTS_SLACK_MS) > 1000 ? Number(process.env.FAULTS_SLACK_MS) : 1000;
/** The generous bound on blocking time: the deadline plus the slack. */
export const bound = (timeoutMs: number): number => timeoutMs + SLACK_MS;
/** A skip path or a background hand-off does no network I/O in the hook: the slack alone. */
export const SKIP_BOUND = SLACK_MS;

export interface Tree {
  root: string;
  app: string;
  nodeModules: string;
  pkg: string;
  home: string;
  tmp: string;
  markerDir: string;
}

export interface TreeOptions {
  name?: string;
  version?: string;
  installBeacon?: unknown;
  /** Raw text for the author's package.json (wins over name/version/installBeacon); null: no file. */
  pkgJsonText?: string | null;
  /** Raw text for the root project's package.json; null: none; 'dir': a directory of that name. */
  rootPkgText?: string | null | 'dir';
}

const dirs: string[] = [];

/** A fresh installed tree: <root>/app/node_modules/acme-lib with the author's package.json, plus home and tmp dirs. */
export function makeTree(options: TreeOptions = {}): Tree {
  const root = mkdtempSync(join(tmpdir(), 'ib-faults-'));
  dirs.push(root);
  chmodSync(root, 0o755); // cases that run under another UID must reach it
  const app = join(root, 'app');
  const nodeModules = join(app, 'node_modules');
  const pkg = join(nodeModules, 'acme-lib');
  const home = join(root, 'home');
  const tmp = join(root, 'tmp');
  for (const d of [pkg, home, tmp]) mkdirSync(d, { recursive: true });
  const rootPkg = options.rootPkgText === undefined ? JSON.stringify({ name: ROOT_PROJECT_NAME, version: '9.9.9', private: true }) : options.rootPkgText;
  if (rootPkg === 'dir') mkdirSync(join(app, 'package.json'));
  else if (rootPkg !== null) writeFileSync(join(app, 'package.json'), rootPkg);
  const text =
    options.pkgJsonText !== undefined
      ? options.pkgJsonText
      : JSON.stringify({ name: options.name ?? 'acme-lib', version: options.version ?? '2.3.4', scripts: { postinstall: 'install-beacon' }, installBeacon: options.installBeacon });
  if (text !== null) writeFileSync(join(pkg, 'package.json'), text);
  return { root, app, nodeModules, pkg, home, tmp, markerDir: join(nodeModules, '.install-beacon') };
}

/** Remove every tree made so far (chmod back first: some cases make folders read-only). */
export function removeTrees(): void {
  readableBin = undefined;
  for (const d of dirs.splice(0)) {
    spawnSync('chmod', ['-R', 'u+rwX', d]);
    rmSync(d, { recursive: true, force: true });
  }
}

/** The config most cases use: the given URL, explicit delivery, a short deadline. */
export const config = (url: string, delivery: 'inline' | 'background' | 'auto' = 'inline', timeoutMs = 1000) => ({ url, delivery, timeoutMs });

/** The lifecycle environment npm gives a dependency's postinstall, in a clean base env. */
export function hookEnv(tree: Tree, extra: Record<string, string | undefined> = {}): Record<string, string> {
  return baseEnv(tree.home, {
    INIT_CWD: tree.app,
    TMPDIR: tree.tmp,
    npm_lifecycle_event: 'postinstall',
    npm_command: 'install',
    npm_config_user_agent: 'npm/11.19.1 node/v20.20.2 linux x64 workspaces/false',
    IB_FAULTS_CANARY: CANARY,
    ...extra,
  });
}

export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
  pid: number;
}

export interface RunOptions {
  env?: Record<string, string>;
  args?: string[];
  /** A command prefix, e.g. ['unshare', '-n'] or ['setpriv', '--reuid', ...]. */
  wrap?: string[];
  node?: string;
  cwd?: string;
  /** Kill (by PID) after this long: a hang shows as a failed bound, never a stuck suite. */
  killAfterMs?: number;
  stdio?: SpawnOptions['stdio'];
  /** Called with the child once spawned. */
  onSpawn?(pid: number): void;
}

let readableBin: string | undefined;

/**
 * The built bin where another UID can read it: a checkout may sit in a folder
 * only root can enter (`mktemp -d` makes 0700), and a postinstall run by an
 * unprivileged user would then fail on reading the bin, not on install-beacon.
 */
function binFor(wrap: string[] | undefined): string {
  if (wrap?.[0] !== 'setpriv') return BIN;
  if (!readableBin) {
    const dir = mkdtempSync(join(tmpdir(), 'ib-faults-dist-'));
    dirs.push(dir);
    cpSync(dirname(BIN), join(dir, 'dist'), { recursive: true });
    spawnSync('chmod', ['-R', 'a+rX', dir]);
    readableBin = join(dir, 'dist', basename(BIN));
  }
  return readableBin;
}

/** Spawn the built bin in the tree's package folder, as a postinstall would. */
export function runHook(tree: Tree, options: RunOptions = {}): Promise<Run> {
  const argv = [...(options.wrap ?? []), options.node ?? process.execPath, binFor(options.wrap), ...(options.args ?? [])];
  return runCommand(argv, { ...options, cwd: options.cwd ?? tree.pkg, env: options.env ?? hookEnv(tree) });
}

/** How long a process's pipes may stay open after it exits (its output still draining): the slack. */
const PIPES_MS = SLACK_MS;

export function runCommand(argv: string[], options: RunOptions & { cwd: string; env: Record<string, string> }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(argv[0]!, argv.slice(1), { cwd: options.cwd, env: options.env, stdio: options.stdio ?? ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d) => (stdout += d));
    child.stderr?.on('data', (d) => (stderr += d));
    child.stdout?.on('error', () => undefined);
    child.stderr?.on('error', () => undefined);
    if (child.pid) options.onSpawn?.(child.pid);
    const timer = setTimeout(() => child.kill('SIGKILL'), options.killAfterMs ?? 30_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    // Blocking time is measured at 'exit': a detached grandchild must not hold the measurement open.
    child.on('exit', (code, signal) => {
      const ms = Date.now() - started;
      clearTimeout(timer);
      // Then the output is read to its end: 'close' comes once every pipe is
      // closed. A descendant still holding them (a sender that inherited the
      // hook's stdio) would keep npm waiting on the script: that fails the case.
      const held = setTimeout(() => reject(new Error(`pid ${child.pid}: stdout/stderr still open ${PIPES_MS} ms after exit (a descendant holds them)`)), PIPES_MS);
      child.once('close', () => {
        clearTimeout(held);
        resolve({ code, signal, stdout, stderr, ms, pid: child.pid ?? 0 });
      });
    });
  });
}

/** The one line a sending hook prints to stderr. */
export const NOTICE = /^install-beacon: .+ sends one anonymous install event to .+ \(opt out: DO_NOT_TRACK=1; what and why: npx install-beacon explain\)\n$/;

/** Exit 0 (never a signal), within `ms`, stdout empty; stderr empty on skip paths, one notice line when sending. */
export function expectClean(r: Run, ms: number, printed: 'silent' | 'notice'): void {
  expect({ code: r.code, signal: r.signal }).toEqual({ code: 0, signal: null });
  expect(r.ms, `blocked ${r.ms} ms, bound ${ms} ms`).toBeLessThanOrEqual(ms);
  expect(r.stdout).toBe('');
  if (printed === 'silent') expect(r.stderr).toBe('');
  else expect(r.stderr).toMatch(NOTICE);
}

// ---- Files: everything under the case's root, before and after ----

export function snapshot(root: string): Set<string> {
  const out = new Set<string>();
  const walk = (dir: string) => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const path = join(dir, name);
      out.add(relative(root, path));
      try {
        if (lstatSync(path).isDirectory()) walk(path);
      } catch {
        // vanished between readdir and lstat: nothing to list
      }
    }
  };
  walk(root);
  return out;
}

/**
 * A send that failed for a reason worth retrying keeps its claim as an empty
 * marker ("in flight"), so no other run sends for RETRY_AFTER_MS and then
 * exactly one later run retries it.
 */
export function expectRetryLater(tree: Tree): void {
  const files = readdirSync(tree.markerDir);
  expect(files, 'one marker kept for a later retry').toHaveLength(1);
  expect(readFileSync(join(tree.markerDir, files[0]!), 'utf8'), 'the marker is empty: not reported yet').toBe('');
}

/** The only place the design writes: <project>/node_modules/.install-beacon/<marker>.json (never HOME). */
export function expectOnlyMarkerWritten(tree: Tree, before: Set<string>, markers: 0 | 1 | 'any' = 'any'): void {
  const after = snapshot(tree.root);
  const added = [...after].filter((p) => !before.has(p));
  const markerRel = relative(tree.root, tree.markerDir);
  const inside = (p: string, dir: string) => p.startsWith(`${dir}/`) && p.endsWith('.json') && !p.slice(dir.length + 1).includes('/');
  const stray = added.filter((p) => p !== markerRel && !inside(p, markerRel));
  expect(stray, 'files written outside node_modules/.install-beacon/').toEqual([]);
  const removed = [...before].filter((p) => !after.has(p));
  expect(removed, 'files removed').toEqual([]);
  if (markers !== 'any') expect(added.filter((p) => inside(p, markerRel)).length).toBe(markers);
}

// ---- Events: the tally behind the README's totals ----

export const tally = { expected: 0, received: 0, lost: 0, doubled: 0 };

/** Assert the collector saw exactly `n` requests, and count losses and doubles for the totals. */
export function expectEvents(seen: number, n: number): void {
  tally.expected += n;
  tally.received += seen;
  if (seen < n) tally.lost += n - seen;
  if (seen > n) tally.doubled += seen - n;
  expect(seen, 'events at the collector').toBe(n);
}

/**
 * Before counting "exactly n, nothing more": wait until nothing more can
 * arrive. Every background sender that names a server's port has exited
 * (waited for by PID, bounded by the sender's own 10 s deadline plus slack;
 * one still running is killed and fails the case), then each server has
 * drained: its accept queue is empty and every connection is closed, so each
 * byte sent to it has been read and each request counted. The hook itself has
 * exited before this is called. No fixed sleep: a late event is counted, not
 * missed.
 */
export async function quiet(...servers: Array<{ port: number; drained(ms?: number): Promise<void> }>): Promise<void> {
  for (const s of servers) expect(await reapSenders(String(s.port), 12_000), `background senders for port ${s.port} still running after 12 s`).toEqual([]);
  for (const s of servers) await s.drained();
}

// ---- Background senders: found by PID, waited for, killed if left over ----

/** PIDs of running `__send` processes whose command line mentions `needle` (e.g. the collector's port). */
export function senders(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'latin1');
      if (cmd.includes('__send') && cmd.includes(needle)) pids.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return pids;
}

/** Wait up to `ms` for background senders mentioning `needle` to exit; kill (by PID) and return any left over. */
export async function reapSenders(needle: string, ms: number): Promise<number[]> {
  const end = Date.now() + ms;
  let left = senders(needle);
  while (left.length > 0 && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 50));
    left = senders(needle);
  }
  for (const pid of left) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  return left;
}

/** True when a process with this PID still exists (and is not a zombie). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

// ---- Privacy: every byte every fault server received ----

/** Values that must never be sent: host and user names, HOME, INIT_CWD, paths, the canary env value, the root project's name. */
export function forbiddenValues(trees: Tree[]): string[] {
  const values = [hostname(), CANARY, ROOT_PROJECT_NAME, tmpdir(), ROOT, process.env.HOME ?? ''];
  try {
    values.push(userInfo().username);
  } catch {
    // no passwd entry for this UID: nothing to look for
  }
  for (const t of trees) values.push(t.root, t.app, t.pkg, t.home, t.tmp);
  return values.filter((v) => v.length >= 4);
}

/** All plaintext captured in this worker (latin1: one char per byte). */
export function wireText(): string {
  return WIRE.filter((w) => w.kind === 'plain').map((w) => Buffer.concat(w.bytes).toString('latin1')).join('\n');
}

/**
 * Percent-decode at the byte level (%XX → that byte), returned as latin1 and
 * as UTF-8 text. With `strict`, a '%' not followed by two hex digits throws:
 * what it hides could not be read, so the check fails rather than skip it.
 */
export function percentDecoded(text: string, strict = true): string[] {
  const bad = /%(?![0-9a-f]{2})/i.exec(text);
  if (strict && bad) throw new Error(`a malformed percent escape at byte ${bad.index}: ${JSON.stringify(text.slice(Math.max(0, bad.index - 20), bad.index + 20))}`);
  const bytes = Buffer.from(text.replace(/%([0-9a-f]{2})/gi, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1');
  return [bytes.toString('latin1'), bytes.toString('utf8')];
}

/**
 * `text` and every percent-decoding of it, down to a text with no escape left
 * (double encoding included). What was received must be well-formed (strict);
 * a '%' that only appears once decoded is a literal one in the data (a name
 * holding "%zz" is sent as "%25zz"), so later rounds decode what they can.
 */
export function decodings(text: string): string[] {
  const out = [text];
  for (let round = 0, t = text; round < 4 && t.includes('%'); round++) {
    const [latin1, utf8] = percentDecoded(t, round === 0);
    out.push(latin1!, utf8!);
    t = latin1!;
  }
  return out;
}

/**
 * Assert that no forbidden value appears in any byte received: plaintext raw
 * and percent-decoded; CONNECT tunnels (TLS ciphertext) raw, since a
 * ClientHello carries the server name in clear, and only to a TLS server of
 * this suite, whose decrypted side is in WIRE as plaintext.
 */
export function expectNothingPrivate(values: string[]): void {
  expect(values.length, 'values to look for').toBeGreaterThan(0);
  for (const w of WIRE) {
    const raw = Buffer.concat(w.bytes).toString('latin1');
    if (w.kind === 'tunnel') {
      expect(TLS_TARGETS.has(w.target ?? ''), `a CONNECT tunnel to ${w.target}, which is not a recorded TLS server`).toBe(true);
      if (raw.length > 0) expect(raw.charCodeAt(0), 'tunnel bytes start with a TLS handshake record').toBe(0x16);
    }
    const texts = w.kind === 'tunnel' ? [raw] : decodings(raw);
    for (const text of texts) {
      for (const value of values) expect(text.includes(value), `${w.server} (${w.kind}) bytes contain ${JSON.stringify(value)}`).toBe(false);
      // Any absolute path under a few well-known roots.
      if (w.kind === 'plain') expect(text).not.toMatch(/\/(tmp|root|home|work|usr|etc|var)\//);
    }
  }
}

export const exists = existsSync;

// ---- Per-file results for the totals reporter ----

const skipped: Array<{ test: string; reason: string }> = [];
/** Measurements worth reporting (delivery rates), printed with the totals. */
export const notes: string[] = [];

/** Why a case cannot run here (recorded for the report), or undefined when it can. */
export function skipReason(test: string, reason: string | undefined): boolean {
  if (reason) skipped.push({ test, reason });
  return !!reason;
}

/** Write this file's event tally and skip reasons where the totals reporter reads them. */
export function writeResults(file: string): void {
  const dir = join(ROOT, '.faults');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${file}.json`), JSON.stringify({ file, tally, skipped, notes }, null, 2));
}

/** Why namespaces cannot be used here, or undefined. */
export function unshareUnavailable(args: string[]): string | undefined {
  const r = spawnSync('unshare', [...args, 'true'], { stdio: 'ignore' });
  if (r.error) return `unshare is not installed (${(r.error as NodeJS.ErrnoException).code})`;
  return r.status === 0 ? undefined : `unshare ${args.join(' ')} is not permitted here (exit ${r.status})`;
}

export function setprivUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root: cannot switch to another UID';
  const r = spawnSync('setpriv', ['--reuid', '54321', '--regid', '54321', '--clear-groups', 'true'], { stdio: 'ignore' });
  if (r.error) return 'setpriv is not installed';
  return r.status === 0 ? undefined : `setpriv cannot switch UID here (exit ${r.status})`;
}

/** Run as a UID and GID that have no passwd or group entry. */
export const NOBODY_UID = 54321;
export const AS_NOBODY = ['setpriv', '--reuid', String(NOBODY_UID), '--regid', String(NOBODY_UID), '--clear-groups'];

/** The last case of each file: every byte this file's servers received is free of private values. */
export function privacyCase(trees: Tree[], extra: () => string[] = () => []): void {
  it('privacy: no byte received by any server in this file holds a host or user name, HOME, INIT_CWD, a path, an env value or the root project name', () => {
    expect(wireText().length, 'bytes captured').toBeGreaterThan(0);
    expectNothingPrivate([...forbiddenValues(trees), ...extra()]);
  });
}
