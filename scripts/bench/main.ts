import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { startCollector, type Collector } from '../../test/support/collector.js';
import { NPM, NPM_LOCAL, writeProject } from '../../test/support/fixture.js';
import { ROOT } from '../../test/support/process.js';
import { makeFixtures, TIMEOUT_MS, type Fixtures } from './fixtures.js';
import { median, quantile, settleTagged, startBlackHole, timeSpawn, type BlackHole, type Timed } from './measure.js';
import { writeReport, type PackSize, type Results, type Row } from './report.js';
import { runtimeLoads, runtimeTrigger } from './runtime.js';

// `npm run bench`: install-beacon's cost against a bare Node start and against
// @scarf/scarf 1.4.0, measured side by side in one run. Subjects are
// interleaved round-robin (the starting subject rotates each round) so that
// drift on a shared machine hits them all alike; every figure is reported as
// a median and as a ratio to `node -e 0` measured in the same rounds.

// Fast subjects (well under a second each) get many rounds; the slow ones
// (a 1.5 s deadline, @scarf/scarf's npm ls and its black hole) fewer, in a
// round-robin of their own with their own floor.
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 51);
const SLOW_ROUNDS = Number(process.env.BENCH_SLOW_ROUNDS ?? 13);
const INSTALL_ROUNDS = Number(process.env.BENCH_INSTALL_ROUNDS ?? 12);
/** Runs per subject under the load probe (peak RSS, CPU time, what is loaded). */
const PROBE_RUNS = Number(process.env.BENCH_PROBE_RUNS ?? 11);
const SLOW = new Set(['floor.slow', 'ib.inline.hole', 'scarf.optout', 'scarf.send', 'scarf.hole']);
const PROBE = join(ROOT, 'scripts/bench/load-probe.cjs');
const NODE = process.execPath;

interface Subject {
  id: string;
  /** One timed run; returns ms, or throws when the run did not do what it should. */
  run(probeArgs?: string[]): Promise<Timed>;
  samples: number[];
  /** Free-form checks collected across runs (events received, timeouts...). */
  notes: string[];
}

const log = (line: string) => process.stderr.write(`bench: ${line}\n`);

function subject(id: string, run: Subject['run']): Subject {
  const counted: Subject['run'] = (p) => {
    runsOf.set(id, (runsOf.get(id) ?? 0) + 1);
    return run(p);
  };
  return { id, run: counted, samples: [], notes: [] };
}

/** Requests the collector received whose path starts with `prefix`. */
const received = (c: Collector, prefix: string) => c.requests.filter((r) => r.path.startsWith(prefix)).length;

async function hookSubjects(fx: Fixtures, collector: Collector, hole: BlackHole): Promise<Subject[]> {
  const bin = join(fx.tree, 'node_modules/install-beacon/dist/bin.cjs');
  const markerDir = join(fx.tree, 'node_modules/.install-beacon');
  const pkgDir = (name: string) => join(fx.tree, 'node_modules', name);
  const scarfDir = join(fx.tree, 'node_modules/@scarf/scarf');
  // Built per run: the probe pass adds LOAD_PROBE_DIR to process.env, which baseEnv copies.
  const scarfEnv = (port: number, extra: Record<string, string> = {}) => () => fx.hookEnv({ SCARF_LOCAL_PORT: String(port), ...extra });
  const fail = (id: string, r: Timed, why: string) => new Error(`${id}: ${why} (exit ${r.code}, stderr: ${r.stderr.trim().slice(0, 300)})`);

  const floorRun: Subject['run'] = (p = []) => timeSpawn(NODE, [...p, '-e', '0'], { cwd: fx.tree, env: fx.hookEnv() });
  const floor = subject('floor', floorRun);
  const floorSlow = subject('floor.slow', floorRun);

  const optOut = subject('ib.optout', async (p = []) => {
    const r = await timeSpawn(NODE, [...p, bin], { cwd: pkgDir('acme-bg-local'), env: fx.hookEnv({ DO_NOT_TRACK: '1' }) });
    if (r.code !== 0 || r.stderr) throw fail('ib.optout', r, 'expected a silent exit 0');
    return r;
  });
  // The author's own `npm install` in the package's repo: cwd is not inside node_modules.
  const skip = subject('ib.skip', async (p = []) => {
    const r = await timeSpawn(NODE, [...p, bin], { cwd: fx.tree, env: fx.hookEnv() });
    if (r.code !== 0 || r.stderr) throw fail('ib.skip', r, 'expected a silent exit 0');
    return r;
  });

  /** A send: fresh marker, one run, then wait for / kill the detached sender by PID. */
  const send = (id: string, name: string, endpoint: 'local' | 'hole', background: boolean) =>
    subject(id, async (p = []) => {
      rmSync(markerDir, { recursive: true, force: true });
      const before = received(collector, `/${name}/`);
      const acceptedBefore = hole.accepted;
      const r = await timeSpawn(NODE, [...p, bin], { cwd: pkgDir(name), env: fx.hookEnv() });
      if (r.code !== 0 || !r.stderr.includes('sends one anonymous install event')) throw fail(id, r, 'expected the send notice and exit 0');
      if (background) {
        // local: the sender exits once answered; hole: it would wait 10 s, so it is killed.
        const killed = await settleTagged(fx.tree, endpoint === 'local' ? 5000 : 0);
        if (endpoint === 'local' && killed > 0) tally(id, 'the background sender had to be killed');
      }
      if (endpoint === 'local' && received(collector, `/${name}/`) <= before) tally(id, 'no event arrived');
      // The *-fields fixtures: the event carries real values (the tree's package.json lists every fixture: asked for).
      const last = collector.requests.filter((q) => q.path.startsWith(`/${name}/`)).at(-1);
      if (name.endsWith('-fields') && last && (last.query.direct !== 'true' || !/^\d+\.\d+/.test(last.query.libc_version ?? ''))) tally(id, `unexpected fields: ${JSON.stringify(last.query)}`);
      if (endpoint === 'hole') {
        if (!background && hole.accepted <= acceptedBefore) tally(id, 'the black hole saw no connection');
        hole.drop();
      }
      return r;
    });

  const scarf = (id: string, env: () => Record<string, string>, expect: 'send' | 'hole' | 'none') =>
    subject(id, async (p = []) => {
      const before = received(collector, '/package-event/');
      const acceptedBefore = hole.accepted;
      const r = await timeSpawn(NODE, [...p, 'report.js'], { cwd: scarfDir, env: env() });
      // `npm ls` may outlive report.js (its timeout kills only the shell).
      await settleTagged(fx.root, 3000);
      if (r.code !== 0) throw fail(id, r, 'expected exit 0');
      if (expect === 'send' && received(collector, '/package-event/') <= before) tally(id, 'no event arrived');
      if (expect === 'hole' && hole.accepted <= acceptedBefore) tally(id, 'the black hole saw no connection');
      if (expect === 'none' && received(collector, '/package-event/') > before) tally(id, 'sent despite the opt-out');
      hole.drop();
      return r;
    });

  // Reference points (not install-beacon): the least a background send can
  // do (read one file, spawn a detached child) and the least an inline send
  // can do (one http GET to the same endpoint, answered at once).
  const refSpawn = join(fx.root, 'ref-spawn.cjs');
  writeFileSync(
    refSpawn,
    "'use strict';\nrequire('fs').readFileSync('package.json', 'utf8');\nrequire('child_process').spawn(process.execPath, ['-e', '0'], { detached: true, stdio: 'ignore' }).unref();\n",
  );
  const refGet = join(fx.root, 'ref-get.cjs');
  writeFileSync(refGet, `'use strict';\nrequire('http').get('http://127.0.0.1:${collector.port}/ref/', (res) => res.destroy());\n`);
  const ref = (id: string, script: string) =>
    subject(id, async (p = []) => {
      const r = await timeSpawn(NODE, [...p, script], { cwd: pkgDir('acme-bg-local'), env: fx.hookEnv() });
      await settleTagged(fx.tree, 3000); // the detached child (cwd in the tree) is waited for, as a background sender is
      if (r.code !== 0) throw fail(id, r, 'expected exit 0');
      return r;
    });

  return [
    floor,
    ref('ref.spawn', refSpawn),
    ref('ref.get', refGet),
    optOut,
    skip,
    send('ib.bg.local', 'acme-bg-local', 'local', true),
    send('ib.bg.hole', 'acme-bg-hole', 'hole', true),
    send('ib.inline.local', 'acme-inline-local', 'local', false),
    send('ib.bg.fields', 'acme-bg-fields', 'local', true),
    send('ib.inline.fields', 'acme-inline-fields', 'local', false),
    send('ib.inline.hole', 'acme-inline-hole', 'hole', false),
    scarf('scarf.optout', scarfEnv(collector.port, { DO_NOT_TRACK: '1' }), 'none'),
    scarf('scarf.send', scarfEnv(collector.port), 'send'),
    scarf('scarf.hole', scarfEnv(hole.port), 'hole'),
    floorSlow,
  ];
}

/**
 * What went other than planned, counted per subject: reported beside the
 * figures rather than failing the run (under load, @scarf/scarf's 3 s limit
 * on \`npm ls\` makes it skip some sends: that is part of what it costs).
 */
const tallies = new Map<string, Map<string, number>>();
const runsOf = new Map<string, number>();
function tally(id: string, what: string): void {
  if (!tallies.has(id)) tallies.set(id, new Map());
  const t = tallies.get(id)!;
  t.set(what, (t.get(what) ?? 0) + 1);
}

function installSubjects(fx: Fixtures, collector: Collector, floorEnv: Record<string, string>): Subject[] {
  let n = 0;
  // `npm install` in a project whose package.json lists the fixture (as a
  // file: tarball): a fresh project each run, no lockfile, no registry. (Given
  // as `npm install <tarball>` instead, @scarf/scarf sees itself at the top
  // level, because package.json is written after the scripts, and skips.)
  const install = (id: string, fixture: string, scripts: boolean, expectPrefix: string | undefined, env: Record<string, string>) =>
    subject(id, async () => {
      const dir = join(fx.root, 'installs', `${id}-${n++}`);
      writeProject(dir, { dependencies: { [fixture]: `file:${fx.tgz[fixture]!}` } });
      const before = expectPrefix ? received(collector, expectPrefix) : 0;
      try {
        const r = await timeSpawn(NPM, ['install', ...NPM_LOCAL, ...(scripts ? [] : ['--ignore-scripts'])], { cwd: dir, env, killAfterMs: 120_000 });
        if (r.code !== 0) throw new Error(`${id}: npm install exited ${r.code}: ${r.stderr.slice(0, 500)}`);
        if (expectPrefix && received(collector, expectPrefix) <= before) tally(id, 'no event arrived');
        return r;
      } finally {
        // A background sender may still run from this tree: wait for it, then remove the tree.
        await settleTagged(dir, 5000);
        rmSync(dir, { recursive: true, force: true });
      }
    });
  const scarfEnv = fx.installEnv({ SCARF_LOCAL_PORT: String(collector.port) });
  return [
    subject('floor', () => timeSpawn(NODE, ['-e', '0'], { cwd: fx.root, env: floorEnv })),
    install('ib.install.scripts', 'acme-auto-local', true, '/acme-auto-local/', fx.installEnv()),
    install('ib.install.ignore', 'acme-auto-local', false, undefined, fx.installEnv()),
    install('ib.bg.install.scripts', 'acme-bg-local', true, undefined, fx.installEnv()),
    install('ref.install.scripts', 'acme-ref', true, undefined, fx.installEnv()),
    install('scarf.install.scripts', 'acme-scarf', true, '/package-event/', scarfEnv),
    install('scarf.install.ignore', 'acme-scarf', false, undefined, scarfEnv),
  ];
}

/** Round-robin: every round runs every subject once, starting one further along each time. */
async function rounds(subjects: Subject[], count: number, label: string, after?: () => Promise<void>): Promise<void> {
  for (let round = -1; round < count; round++) {
    // Round -1 is a warm-up (file caches, npm cache): run and discard.
    for (let k = 0; k < subjects.length; k++) {
      const s = subjects[(Math.max(round, 0) + k) % subjects.length]!;
      const r = await s.run();
      if (round >= 0) s.samples.push(r.ms);
      if (after) await after();
    }
    log(`${label}: round ${round + 1}/${count}`);
  }
}

interface Probe {
  maxRssKb: number;
  cpuUs: number;
  files: string[];
  builtins: string[];
}

/** Runs each subject under the load probe: peak RSS and what it loaded. */
async function probeSubjects(subjects: Subject[], fx: Fixtures, runs: number): Promise<Map<string, Probe[]>> {
  const out = new Map<string, Probe[]>();
  const dir = join(fx.root, 'probe');
  for (let i = 0; i < runs; i++) {
    for (const s of subjects) {
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir);
      process.env.LOAD_PROBE_DIR = dir; // read by the subjects' env builders below
      const r = await s.run(['--require', PROBE]);
      const file = join(dir, `${r.pid}.json`);
      if (!existsSync(file)) throw new Error(`${s.id}: the load probe wrote nothing`);
      const probe = JSON.parse(readFileSync(file, 'utf8')) as Probe;
      if (!out.has(s.id)) out.set(s.id, []);
      out.get(s.id)!.push(probe);
    }
  }
  delete process.env.LOAD_PROBE_DIR;
  rmSync(dir, { recursive: true, force: true });
  return out;
}

/** npm's own figures for a tarball, as `npm pack` reports them (and a package-size site shows them). */
function packSize(tgz: string, fx: Fixtures): PackSize {
  const out = execFileSync(NPM, ['pack', '--dry-run', '--json', '--ignore-scripts', tgz], { cwd: fx.root, env: fx.installEnv(), encoding: 'utf8' });
  const [report] = JSON.parse(out) as { size: number; unpackedSize: number; entryCount: number }[];
  return { packed: report!.size, unpacked: report!.unpackedSize, files: report!.entryCount };
}

function bytesOf(files: string[]): number {
  return files.filter((f) => /\.(c|m)?js$/.test(f)).reduce((sum, f) => sum + statSync(f).size, 0);
}

async function main(): Promise<void> {
  const started = new Date();
  const load0 = os.loadavg();
  log(`building and packing fixtures (rounds: ${ROUNDS} hook, ${INSTALL_ROUNDS} install)`);
  const collector = await startCollector();
  const hole = await startBlackHole();
  const fx = makeFixtures({ collector: collector.port, hole: hole.port });
  const cleanup = async () => {
    await settleTagged(fx.root, 0);
    await collector.close();
    await hole.close();
    rmSync(fx.root, { recursive: true, force: true });
  };
  try {
    // ---- hook processes, spawn to exit
    const hooks = await hookSubjects(fx, collector, hole);
    const fast = hooks.filter((s) => !SLOW.has(s.id));
    const slow = hooks.filter((s) => SLOW.has(s.id));
    await rounds(fast, ROUNDS, 'hook (fast subjects)');
    await rounds(slow, SLOW_ROUNDS, 'hook (slow subjects)');

    // ---- whole installs
    const installs = installSubjects(fx, collector, fx.hookEnv());
    await rounds(installs, INSTALL_ROUNDS, 'install');

    // ---- runtime trigger
    log('runtime trigger');
    const runtime = await runtimeTrigger(fx, collector);
    const runtimeLoaded = runtime.available ? await runtimeLoads(fx) : [];

    // ---- memory and what is loaded (separate runs: the probe itself costs a little)
    log('peak RSS and loaded files');
    const fastHooks = hooks.filter((s) => (!s.id.endsWith('.hole') || s.id === 'ib.bg.hole') && s.id !== 'floor.slow');
    // LOAD_PROBE_DIR must reach the subjects: their env builders copy process.env.
    const probes = await probeSubjects(fastHooks, fx, PROBE_RUNS);

    const rows = (subjects: Subject[]): Row[] => {
      const floor = subjects.find((s) => s.id.startsWith('floor'))!;
      const f = median(floor.samples);
      return subjects.map((s) => ({
        id: s.id,
        median: median(s.samples),
        p25: quantile(s.samples, 0.25),
        p75: quantile(s.samples, 0.75),
        max: Math.max(...s.samples),
        n: s.samples.length,
        ratio: median(s.samples) / f,
        // Each round ran every subject once, so sample i of each is from the same round.
        paired: median(s.samples.map((v, i) => v / floor.samples[i]!)),
        samples: s.samples,
        notes: [...(tallies.get(s.id) ?? [])].map(([what, k]) => `${what}: ${k} of ${runsOf.get(s.id) ?? 0} runs`),
      }));
    };

    const dist = join(ROOT, 'dist');
    const distFiles = readdirSync(dist).filter((f) => /\.(c|m)?js$/.test(f)).map((f) => join(dist, f));
    const results: Results = {
      started: started.toISOString(),
      finished: new Date().toISOString(),
      machine: {
        cpu: os.cpus()[0]?.model ?? 'unknown',
        cores: os.cpus().length,
        memGb: Math.round(os.totalmem() / 2 ** 30),
        os: `${os.type()} ${os.release()}`,
        node: process.version,
        npm: fx.npmVersion,
        loadBefore: load0,
        loadAfter: os.loadavg(),
        extraCa: process.env.NODE_EXTRA_CA_CERTS ? 'set' : 'unset',
      },
      rounds: { hook: ROUNDS, slow: SLOW_ROUNDS, install: INSTALL_ROUNDS },
      hook: [...rows(fast), ...rows(slow)],
      install: rows(installs),
      runtime,
      timeoutMs: TIMEOUT_MS,
      memory: [...probes].map(([id, ps]) => ({
        id,
        maxRssMb: median(ps.map((p) => p.maxRssKb)) / 1024,
        cpuMs: median(ps.map((p) => p.cpuUs)) / 1000,
        files: ps[0]!.files.map((f) => f.replace(fx.tree, '<tree>')),
        jsBytes: bytesOf(ps[0]!.files),
        builtins: ps[0]!.builtins.length,
      })),
      size: {
        dist: distFiles.map((f) => ({ file: f.slice(ROOT.length + 1), bytes: statSync(f).size })),
        scarfReport: statSync(join(fx.tree, 'node_modules/@scarf/scarf/report.js')).size,
        packages: { ib: packSize(fx.beaconTgz, fx), scarf: packSize(fx.scarfTgz, fx) },
        runtime: runtimeLoaded,
      },
    };
    writeFileSync(join(ROOT, '.bench/results.json'), JSON.stringify(results, null, 2));
    writeReport(results, ROOT);
    log('wrote BENCHMARKS.md and docs/bench.svg');
  } finally {
    await cleanup();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
});
