import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../../test/support/process.js';
import type { Collector } from '../../test/support/collector.js';
import type { Fixtures } from './fixtures.js';
import { median, settleTagged } from './measure.js';

// The runtime trigger: `require('install-beacon').reportInstall(__filename)`
// called from an installed package (fixture acme-runtime, background delivery
// to the local collector). Two figures:
// - first call in a fresh install (no marker): ms for the call, in a new process;
// - once the marker exists: ns per call over many calls in one process.

export interface RuntimeResult {
  available: boolean;
  reason?: string;
  /** Median ms of `require('install-beacon')` in a fresh process. */
  requireMs?: number;
  /** Median ms of the first call: until it returns, and until the work it defers to the next tick is done. */
  firstCallMs?: number;
  firstCallSettledMs?: number;
  /** Median ms of the first call in a process once the marker exists (it checks the marker). */
  markerFirstCallMs?: number;
  /** Median over processes of the mean ns per later call in the same process. */
  nsPerCall?: number;
  calls?: number;
  runs?: number;
  events?: number;
}

const CALLS = 200_000;

// Runs in the child. Prints one JSON line. acme-runtime's main module calls
// reportInstall(__filename) as it loads (as the README shows); its export
// repeats the call for the per-call figure.
const SCRIPT = `'use strict';
const now = () => Number(process.hrtime.bigint());
const [, , mode, pkg] = process.argv;
(async () => {
  const t0 = now();
  const lib = require(require.resolve('install-beacon', { paths: [pkg] }));
  const out = { requireMs: (now() - t0) / 1e6 };
  if (typeof lib.reportInstall !== 'function') { out.missing = true; console.log(JSON.stringify(out)); return; }
  const a = now();
  const acme = require(pkg); // the first call, as the package loads
  out.firstCallMs = (now() - a) / 1e6;
  // reportInstall defers its decision (and the sender's start) to a later
  // tick: a setImmediate queued now runs after that work.
  await new Promise((r) => setImmediate(r));
  out.firstCallSettledMs = (now() - a) / 1e6;
  if (mode === 'loop') {
    for (let i = 0; i < 1000; i++) acme.reportInstall();
    const c = now();
    for (let i = 0; i < ${CALLS}; i++) acme.reportInstall();
    out.nsPerCall = (now() - c) / ${CALLS};
  }
  console.log(JSON.stringify(out));
})();
`;

export async function runtimeTrigger(fx: Fixtures, collector: Collector, runs = 7): Promise<RuntimeResult> {
  const script = join(fx.root, 'runtime-bench.cjs');
  writeFileSync(script, SCRIPT);
  const pkg = join(fx.tree, 'node_modules/acme-runtime');
  const markerDir = join(fx.tree, 'node_modules/.install-beacon');
  const env = fx.installEnv(); // not a lifecycle script: no npm_* variables
  const parse = (stdout: string) => JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as Record<string, number | boolean>;

  const probe = await spawnOut(process.execPath, [script, 'first', pkg], fx.tree, env);
  await settleTagged(fx.tree, 5000);
  if (parse(probe).missing) return { available: false, reason: 'reportInstall is not exported by this build of install-beacon' };

  const before = collector.requests.filter((q) => q.path.startsWith('/acme-runtime/')).length;
  const first: Record<string, number | boolean>[] = [];
  const loops: Record<string, number | boolean>[] = [];
  for (let i = 0; i < runs; i++) {
    rmSync(markerDir, { recursive: true, force: true });
    first.push(parse(await spawnOut(process.execPath, [script, 'first', pkg], fx.tree, env)));
    await settleTagged(fx.tree, 5000);
    // The marker now exists: every call in this process finds it.
    loops.push(parse(await spawnOut(process.execPath, [script, 'loop', pkg], fx.tree, env)));
    await settleTagged(fx.tree, 5000);
  }
  const events = collector.requests.filter((q) => q.path.startsWith('/acme-runtime/')).length - before;
  const nums = (rows: Record<string, number | boolean>[], key: string) => rows.map((r) => r[key]).filter((v): v is number => typeof v === 'number');
  const settled = nums(first, 'firstCallSettledMs');
  return {
    available: true,
    requireMs: median(nums(first, 'requireMs')),
    firstCallMs: median(nums(first, 'firstCallMs')),
    firstCallSettledMs: settled.length ? median(settled) : undefined,
    markerFirstCallMs: median(nums(loops, 'firstCallMs')),
    nsPerCall: median(nums(loops, 'nsPerCall')),
    calls: CALLS,
    runs,
    events,
  };
}

export interface LoadResult {
  id: 'runtime.first' | 'runtime.reported';
  /** JavaScript files the host process loaded besides its own script (require.cache), with their bytes. */
  files: { file: string; bytes: number }[];
  jsBytes: number;
}

/**
 * What a program that requires acme-runtime loads for install-beacon, under
 * scripts/bench/load-probe.cjs: on a fresh install (the call claims the
 * install and starts the sender) and once the install has reported.
 */
export async function runtimeLoads(fx: Fixtures): Promise<LoadResult[]> {
  const pkg = join(fx.tree, 'node_modules/acme-runtime');
  const markerDir = join(fx.tree, 'node_modules/.install-beacon');
  const dir = join(fx.root, 'runtime-probe');
  const out: LoadResult[] = [];
  rmSync(markerDir, { recursive: true, force: true });
  for (const id of ['runtime.first', 'runtime.reported'] as const) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir);
    // The sender inherits LOAD_PROBE_DIR but not --require: only the host process reports.
    await spawnOut(process.execPath, ['--require', join(ROOT, 'scripts/bench/load-probe.cjs'), '-e', `require(${JSON.stringify(pkg)})`], fx.tree, { ...fx.installEnv(), LOAD_PROBE_DIR: dir });
    await settleTagged(fx.tree, 5000);
    const reports = readdirSync(dir);
    if (reports.length !== 1) throw new Error(`${id}: expected one load report, found ${reports.length}`);
    const probe = JSON.parse(readFileSync(join(dir, reports[0]!), 'utf8')) as { files: string[] };
    const files = probe.files.filter((f) => /\.(c|m)?js$/.test(f)).map((f) => ({ file: f.replace(fx.tree, '<tree>'), bytes: statSync(f).size }));
    out.push({ id, files, jsBytes: files.reduce((sum, f) => sum + f.bytes, 0) });
  }
  rmSync(dir, { recursive: true, force: true });
  return out;
}

/** Spawn, wait, return stdout. */
function spawnOut(command: string, args: string[], cwd: string, env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`runtime bench exited ${code}: ${err.slice(0, 500)}`))));
  });
}
