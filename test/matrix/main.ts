import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { homedir, tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { startCollector, type Collector, type Received } from '../support/collector.js';
import { packAcme, packBeacon } from '../support/fixture.js';
import { baseEnv, BIN, ROOT } from '../support/process.js';
import { EVENT_RULES, expected, LAYOUT_EVENTS, LAYOUTS, verbsFor, type Layout, type LayoutEvent } from './layouts.js';
import { MANAGERS, type Manager, type Project } from './managers.js';
import { exec, killAll, type Result } from './procs.js';
import { startRegistry, type Registry } from './registry.js';
import { runPassed, tableDrift } from './verdict.js';
import { CACHE, ensureNode, ensureTool, type Installed } from './tools.js';

// npm run test:matrix: real installs of acme-lib (a package whose postinstall is
// install-beacon) with every package manager, from a local verdaccio registry,
// counting the events a real collector on 127.0.0.1 receives. Writes the
// compatibility tables (docs/compatibility.md) from what it measured. See README "Compatibility".

const NODE_VERSIONS = ['14.21.3', '16.20.2', '18.20.8', '20.20.2', '22.23.3', '24.21.0'];
const VERDACCIO = { name: 'verdaccio', range: '6.7.4', overrides: { 'node-fetch@cjs': '2.7.0', 'verdaccio-audit': { 'node-fetch': '2.7.0' } } };
const ACME_VERSION = '2.3.4';
const HOST_NODE = process.versions.node;
const README = join(ROOT, 'docs', 'compatibility.md');
const START = '<!-- matrix:start -->';
const END = '<!-- matrix:end -->';

const args = process.argv.slice(2);
const onlyArg = args.find((a) => a.startsWith('--only='));
const only = onlyArg ? new RegExp(onlyArg.slice('--only='.length)) : undefined;
const writeReadme = !only && !args.includes('--no-readme');
/** A full run (no --only) checks the README's table against what it measured. */
const checkReadme = !only;

type Status = 'pass' | 'fail' | 'skip';
interface Outcome {
  table: 'managers' | 'npm' | 'node' | 'runtime' | 'layouts';
  row: string;
  col: string;
  status: Status;
  /** What was seen, for the table. */
  cell: string;
  /** Why it failed or was skipped. */
  why?: string;
}
const outcomes: Outcome[] = [];
const rowInfo = new Map<string, string>();

function record(o: Outcome): void {
  outcomes.push(o);
  const mark = o.status === 'pass' ? 'pass' : o.status === 'fail' ? 'FAIL' : 'skip';
  const at = `${((Date.now() - started) / 1000).toFixed(0)}s`.padStart(5);
  console.log(`matrix: ${mark.padEnd(4)} ${at} ${o.row} / ${o.col}: ${o.cell}${o.why ? ` -- ${o.why}` : ''}`);
}

const started = Date.now();
const work = mkdtempSync(join(tmpdir(), 'ib-matrix-'));
let registry: Registry | undefined;
let collector: Collector | undefined;

function cleanup(): void {
  const killed = killAll();
  if (killed) console.log(`matrix: killed ${killed} leftover process group(s)`);
  // MATRIX_KEEP=1 keeps the work dir for a post-mortem (said so on the console).
  if (process.env.MATRIX_KEEP === '1') console.log(`matrix: MATRIX_KEEP=1: kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    cleanup();
    process.exit(130);
  });
}

// ---- what an event must look like ----

const TEMPLATE_QUERY = 'pm={pm}&pm_version={pm_version}&install={install}&node={node}&trigger={trigger}&ci={ci}';

interface Expect {
  name?: string;
  pm: string;
  pmVersion: string;
  install: 'local' | 'global';
  node: string;
}

function fieldProblems(ev: Received, e: Expect): string[] {
  const want: Array<[string, string | undefined, string]> = [
    ['{name}', ev.segments[0], e.name ?? 'acme-lib'],
    ['{version}', ev.segments[1], ACME_VERSION],
    ['{platform}', ev.segments[2], process.platform],
    ['{arch}', ev.segments[3], process.arch],
    ['{pm}', ev.query.pm, e.pm],
    ['{pm_version}', ev.query.pm_version, e.pmVersion],
    ['{install}', ev.query.install, e.install],
    ['{node}', ev.query.node, e.node],
    ['{trigger}', ev.query.trigger, 'postinstall'],
    ['{ci}', ev.query.ci, 'false'],
  ];
  const out = want.filter(([, got, exp]) => got !== exp).map(([k, got, exp]) => `${k}=${got} (expected ${exp})`);
  if (ev.method !== 'GET') out.push(`method ${ev.method}`);
  return out;
}

/** Run `step` and return what reached the collector meanwhile (cases run one at a time, so the window is theirs). */
async function measure<T>(expected: number, step: () => Promise<T>): Promise<{ value: T; events: Received[]; connections: number }> {
  const c = collector!;
  const before = c.requests.length;
  const conns = c.connections;
  const value = await step();
  // Inline delivery finishes before the hook exits; background senders are waited for by PID,
  // so a late or extra event is counted (no fixed sleep). A shortfall is left to the case's verdict.
  if (expected > 0) await c.waitFor(before + expected, 5000).catch(() => undefined);
  await c.settled();
  return { value, events: c.requests.slice(before), connections: c.connections - conns };
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
// eslint-disable-next-line no-control-regex
const tail = (r: Result) => (r.stderr.trim() || r.stdout.trim()).replace(/\x1b\[[0-9;]*m/g, '').split('\n').slice(-4).join(' | ').slice(0, 400);

// ---- projects ----

let caseNo = 0;
function newProject(label: string): Project & { env(extra?: Record<string, string | undefined>, path?: string[]): NodeJS.ProcessEnv; save(): void } {
  const dir = join(work, 'cases', `${String(++caseNo).padStart(2, '0')}-${label.replace(/[^a-z0-9]+/gi, '-')}`);
  const home = join(dir, 'home');
  const app = join(dir, 'app');
  const tmp = join(dir, 'tmp');
  for (const d of [home, app, tmp]) mkdirSync(d, { recursive: true });
  const p = {
    app,
    home,
    registry: registry!.url,
    pkg: { name: 'matrix-app', version: '1.0.0', private: true } as Record<string, unknown>,
    env(extra: Record<string, string | undefined> = {}, path: string[] = []) {
      // A fresh HOME (so a fresh cache and config for every manager) and TMPDIR inside the case folder.
      return baseEnv(home, {
        PATH: [...path, process.env.PATH ?? ''].join(delimiter),
        TMPDIR: tmp,
        TMP: tmp,
        TEMP: tmp,
        ...extra,
      });
    },
    save() {
      writeFileSync(join(app, 'package.json'), JSON.stringify(p.pkg, null, 2));
    },
  };
  return p;
}

// ---- the package-manager cases ----

interface Ready {
  m: Manager;
  tool: Installed;
  node: string;
  nodeVersion: string;
  path: string[];
}

async function prepare(m: Manager): Promise<Ready | string> {
  const t = await ensureTool(m.tool.name, m.tool.range);
  if (!t.ok) return `could not install ${m.tool.name}@${m.tool.range}: ${t.reason}`;
  let node = process.execPath;
  let nodeVersion = HOST_NODE;
  if (m.node) {
    const [maj, min] = HOST_NODE.split('.').map(Number) as [number, number];
    const [wantMaj, wantMin] = m.node.whenHostBelow;
    if (maj < wantMaj || (maj === wantMaj && min < wantMin)) {
      const n = await ensureNode(m.node.version);
      if (!n.ok) return `${m.label} needs Node ${wantMaj}.${wantMin}+ and Node ${m.node.version} could not be installed: ${n.reason}`;
      node = n.node;
      nodeVersion = m.node.version;
    }
  }
  const path = [t.tool.binDir, dirname(node)];
  const probe = newProject(`${m.id}-version`);
  const r = await exec(join(t.tool.binDir, m.tool.bin), ['--version'], { cwd: probe.app, env: probe.env(m.env?.(probe.home), path), timeoutMs: 60_000 });
  // `deno --version` prints "deno 2.9.6 (stable, ...)" and more lines; the others the bare version.
  const shown = m.tool.bin === 'deno' ? /^deno (\S+)/.exec(r.stdout)?.[1] : r.stdout.trim();
  if (r.code !== 0 || shown !== t.tool.version) return `${m.tool.bin} --version: exit ${r.code}, ${JSON.stringify(r.stdout.trim())} (expected ${t.tool.version}): ${tail(r)}`;
  if (m.hookOnSelf) {
    // {node} is what the runtime the hook runs on reports as process.versions.node.
    const v = await exec(join(t.tool.binDir, m.tool.bin), ['eval', 'console.log(process.versions.node)'], { cwd: probe.app, env: probe.env(m.env?.(probe.home), path), timeoutMs: 60_000 });
    if (v.code !== 0) return `${m.tool.bin} eval: exit ${v.code}: ${tail(v)}`;
    nodeVersion = v.stdout.trim();
  }
  return { m, tool: t.tool, node, nodeVersion, path };
}

async function install(ready: Ready, label: string, pkgs: string[], options: { allowed: boolean; dnt?: boolean; global?: boolean }) {
  const { m, tool, path } = ready;
  const p = newProject(`${m.id}-${label}`);
  m.configure(p);
  if (options.allowed) m.allow(p);
  p.save();
  const g = options.global ? m.global!(pkgs, p.home) : undefined;
  const extra: Record<string, string | undefined> = { ...m.env?.(p.home), ...g?.env, DO_NOT_TRACK: options.dnt ? '1' : undefined };
  const argv = g ? g.argv : [...m.add(pkgs), ...(options.allowed && m.allowArgs ? m.allowArgs(pkgs) : [])];
  const r = await exec(join(tool.binDir, m.tool.bin), argv, { cwd: p.app, env: p.env(extra, [...path, ...(g?.path ?? [])]), timeoutMs: 240_000 });
  return { r, p };
}

async function managerCases(m: Manager): Promise<void> {
  const cols = ['default settings', 'scripts allowed', 'DO_NOT_TRACK=1', 'global install', 'rebuild'];
  const ready = await prepare(m);
  if (typeof ready === 'string') {
    for (const col of cols) record({ table: 'managers', row: m.label, col, status: 'skip', cell: 'skipped', why: ready });
    return;
  }
  rowInfo.set(m.label, `${ready.tool.version}, Node ${ready.nodeVersion}`);
  const expect: Expect = { pm: m.pm, pmVersion: ready.tool.version, install: 'local', node: ready.nodeVersion };
  const verdict = (col: string, problems: string[], cell: string) =>
    record({ table: 'managers', row: m.label, col, status: problems.length ? 'fail' : 'pass', cell, why: problems.join('; ') || undefined });

  // 1. Default settings: the event count the manager allows, and the exit status a
  //    package without install-beacon (acme-control, a no-op postinstall) gets.
  {
    const control = await install(ready, 'control', ['acme-control'], { allowed: false });
    const want = m.runsByDefault ? 1 : 0;
    const { value, events } = await measure(want, () => install(ready, 'default', ['acme-lib'], { allowed: false }));
    const problems: string[] = [];
    if (value.r.timedOut) problems.push('timed out');
    if (value.r.code !== control.r.code) problems.push(`exit ${value.r.code}, but ${control.r.code} without install-beacon: ${tail(value.r)}`);
    if (!existsSync(join(value.p.app, 'node_modules', 'acme-lib')) && !existsSync(join(value.p.app, '.pnp.cjs'))) problems.push('acme-lib was not installed');
    if (events.length !== want) problems.push(`${plural(events.length, 'event')}, expected ${want}`);
    for (const ev of events) problems.push(...fieldProblems(ev, expect));
    verdict('default settings', problems, `${plural(events.length, 'event')}, exit ${value.r.code}${value.r.code ? ' (same without install-beacon)' : ''}`);
  }
  // 2. Scripts allowed the way the README tells end users: exactly one event, right fields.
  {
    const { value, events } = await measure(1, () => install(ready, 'allowed', ['acme-lib'], { allowed: true }));
    const problems: string[] = [];
    if (value.r.code !== 0) problems.push(`exit ${value.r.code}: ${tail(value.r)}`);
    if (events.length !== 1) problems.push(`${plural(events.length, 'event')}, expected 1`);
    for (const ev of events) problems.push(...fieldProblems(ev, expect));
    // Bun and Deno: the hook and a later program run on that runtime share the marker: one event in all.
    let after = '';
    if (m.id === 'bun' || m.id === 'deno') {
      const r = await runner(m.id);
      if (typeof r === 'string') problems.push(r);
      else {
        writeFileSync(join(value.p.app, 'main.mjs'), ESM_MAIN);
        const argv = m.id === 'bun' ? ['main.mjs'] : ['run', '-A', 'main.mjs'];
        const later = await measure(0, () => exec(r.bin, argv, { cwd: value.p.app, env: value.p.env(m.env?.(value.p.home), [...r.path, ...ready.path]), timeoutMs: 60_000 }));
        problems.push(...silent(later.value, `${m.id} ${argv.join(' ')}`));
        if (later.events.length) problems.push(`a later \`${m.id} ${argv.join(' ')}\` sent ${plural(later.events.length, 'event')}, expected none (reported by the hook)`);
        after = `; then \`${m.id} ${argv.join(' ')}\`: ${plural(later.events.length, 'event')}`;
      }
    }
    verdict('scripts allowed', problems, plural(events.length, 'event') + (events[0] ? ` (pm=${events[0].query.pm}, pm_version=${events[0].query.pm_version})` : '') + after);
    // 2b. A rebuild of that same install: no event. Then, with the marker deleted, the
    //     same rebuild must send one, which proves the rebuild really ran the hook.
    if (m.rebuild && events.length === 1) await rebuildCase(ready, value.p, expect);
  }
  // 3. DO_NOT_TRACK=1 with scripts allowed: no event, and not even a TCP connection.
  {
    const { value, events, connections } = await measure(0, () => install(ready, 'dnt', ['acme-lib'], { allowed: true, dnt: true }));
    const problems: string[] = [];
    if (value.r.code !== 0) problems.push(`exit ${value.r.code}: ${tail(value.r)}`);
    if (events.length !== 0) problems.push(`${plural(events.length, 'event')}, expected 0`);
    if (connections !== 0) problems.push(`${plural(connections, 'connection')} to the collector, expected 0`);
    verdict('DO_NOT_TRACK=1', problems, `${plural(events.length, 'event')}, ${plural(connections, 'connection')}`);
  }
  // 4. A global install, scripts allowed: one event with {install}=global.
  if (m.global) {
    const { value, events } = await measure(1, () => install(ready, 'global', ['acme-lib'], { allowed: true, global: true }));
    const problems: string[] = [];
    if (value.r.code !== 0) problems.push(`exit ${value.r.code}: ${tail(value.r)}`);
    if (events.length !== 1) problems.push(`${plural(events.length, 'event')}, expected 1`);
    for (const ev of events) problems.push(...fieldProblems(ev, { ...expect, install: 'global' }));
    const how = m.global(['acme-lib'], '').how;
    verdict('global install', problems, `\`${how}\`: ${plural(events.length, 'event')}${events[0] ? ` (install=${events[0].query.install})` : ''}`);
  }
}

async function rebuildCase(ready: Ready, p: ReturnType<typeof newProject>, expect: Expect): Promise<void> {
  const { m, tool, path } = ready;
  const rebuild = () => exec(join(tool.binDir, m.tool.bin), m.rebuild!, { cwd: p.app, env: p.env(m.env?.(p.home), path), timeoutMs: 240_000 });
  const problems: string[] = [];
  const again = await measure(0, rebuild);
  if (again.value.code !== 0) problems.push(`rebuild: exit ${again.value.code}: ${tail(again.value)}`);
  if (again.events.length !== 0) problems.push(`rebuild: ${plural(again.events.length, 'event')}, expected 0`);
  const markers = [join(p.app, 'node_modules', '.install-beacon'), join(p.app, '.yarn', '.install-beacon')].filter((d) => existsSync(d));
  if (markers.length !== 1) problems.push(`expected one marker folder, found ${markers.length}`);
  for (const d of markers) rmSync(d, { recursive: true, force: true });
  const fresh = await measure(1, rebuild);
  if (fresh.value.code !== 0) problems.push(`rebuild without marker: exit ${fresh.value.code}: ${tail(fresh.value)}`);
  if (fresh.events.length !== 1) problems.push(`rebuild without marker: ${plural(fresh.events.length, 'event')}, expected 1 (did the rebuild run the hook?)`);
  for (const ev of fresh.events) problems.push(...fieldProblems(ev, expect));
  record({
    table: 'managers',
    row: m.label,
    col: 'rebuild',
    status: problems.length ? 'fail' : 'pass',
    cell: `\`${m.tool.bin} ${m.rebuild![0]}\`: ${plural(again.events.length, 'event')} (with the marker deleted: ${plural(fresh.events.length, 'event')})`,
    why: problems.join('; ') || undefined,
  });
}

// ---- npm situations: re-runs, fresh installs, two packages, the author's own install ----

async function npmCases(npmManager: Manager, acmeSource: string): Promise<void> {
  const ready = await prepare(npmManager);
  const rows = ['second `npm install`', '`npm rebuild`', '`npm ci`', '`npm ci` again', 'two packages using install-beacon', "the author's own `npm install` in acme-lib's repo"];
  if (typeof ready === 'string') {
    for (const row of rows) record({ table: 'npm', row, col: 'events', status: 'skip', cell: 'skipped', why: ready });
    return;
  }
  rowInfo.set('npm situations', `npm ${ready.tool.version}, Node ${ready.nodeVersion}`);
  const expect: Expect = { pm: 'npm', pmVersion: ready.tool.version, install: 'local', node: ready.nodeVersion };
  const npmBin = join(ready.tool.binDir, 'npm');
  const check = async (row: string, want: number, step: () => Promise<Result>, names: string[] = []) => {
    const { value, events, connections } = await measure(want, step);
    const problems: string[] = [];
    if (value.code !== 0) problems.push(`exit ${value.code}: ${tail(value)}`);
    if (events.length !== want) problems.push(`${plural(events.length, 'event')}, expected ${want}`);
    if (want === 0 && connections !== 0) problems.push(`${plural(connections, 'connection')}, expected 0`);
    events.forEach((ev, i) => problems.push(...fieldProblems(ev, { ...expect, name: names.length ? ev.segments[0] : undefined }).map((s) => `event ${i + 1}: ${s}`)));
    if (names.length) {
      const got = events.map((e) => e.segments[0]).sort().join(',');
      if (got !== [...names].sort().join(',')) problems.push(`events for [${got}], expected one each for [${names.join(',')}]`);
    }
    record({ table: 'npm', row, col: 'events', status: problems.length ? 'fail' : 'pass', cell: plural(events.length, 'event'), why: problems.join('; ') || undefined });
  };

  // One project through its life: install, install again, rebuild, ci, ci.
  const p = newProject('npm-lifecycle');
  npmManager.configure(p);
  p.save();
  const env = p.env(npmManager.env?.(p.home), ready.path);
  const npm = (argv: string[]) => exec(npmBin, [...argv, '--loglevel=error'], { cwd: p.app, env, timeoutMs: 240_000 });
  const first = await measure(1, () => npm(['install', 'acme-lib']));
  if (first.value.code !== 0 || first.events.length !== 1) {
    const why = `the first npm install gave exit ${first.value.code} and ${plural(first.events.length, 'event')}: ${tail(first.value)}`;
    for (const row of rows.slice(0, 4)) record({ table: 'npm', row, col: 'events', status: 'fail', cell: 'not run', why });
  } else {
    await check('second `npm install`', 0, () => npm(['install']));
    await check('`npm rebuild`', 0, () => npm(['rebuild']));
    await check('`npm ci`', 1, () => npm(['ci']));
    await check('`npm ci` again', 1, () => npm(['ci']));
  }

  // Two packages that use install-beacon, in one tree: one event each.
  const two = newProject('npm-two-packages');
  npmManager.configure(two);
  two.save();
  await check('two packages using install-beacon', 2, () => exec(npmBin, ['install', 'acme-lib', 'other-lib', '--loglevel=error'], { cwd: two.app, env: two.env({}, ready.path), timeoutMs: 240_000 }), ['acme-lib', 'other-lib']);

  // The author's own development install: acme-lib's postinstall runs in its repo, and sends nothing.
  const own = newProject('npm-author');
  npmManager.configure(own);
  cpSync(join(acmeSource, 'package.json'), join(own.app, 'package.json'));
  cpSync(join(acmeSource, 'index.js'), join(own.app, 'index.js'));
  await check("the author's own `npm install` in acme-lib's repo", 0, async () => {
    const r = await exec(npmBin, ['install', '--loglevel=error', '--foreground-scripts'], { cwd: own.app, env: own.env({}, ready.path), timeoutMs: 240_000 });
    // The hook must really have run (and skipped), or this case proves nothing.
    if (r.code === 0 && !r.stdout.includes(`> acme-lib@${ACME_VERSION} postinstall\n> install-beacon`)) return { ...r, code: -1, stderr: `acme-lib's postinstall did not run: ${r.stdout}` };
    return r;
  });
}

// ---- the runtime trigger: reportInstall() where the postinstall did not run ----

// Managers that block a dependency's postinstall by default, plus npm 11 with --ignore-scripts.
const RUNTIME_MANAGERS = ['npm11', 'npm12', 'pnpm10', 'pnpm-latest', 'berry-node-modules', 'berry-pnp', 'bun', 'deno'];
/** Trees these managers install are also run by Bun and Deno (npm: the most common tree; bun and deno: their own). */
const OTHER_RUNTIME_TREES = ['npm11', 'bun', 'deno'];
const RUNTIME_COLS = ['run by node: two runs', 'run by bun: require, then import', 'run by deno', "deno run of an `npm:` specifier without package.json (Deno's own npm cache): two runs", 'pnpm 10 side-effects cache: a second project sharing the store'] as const;

/** `node -e "require('acme-lib')"` in the project, as the end user's program would load it (through .pnp.cjs under PnP). */
function loadAcme(ready: Ready, p: ReturnType<typeof newProject>, homeOverride?: string): Promise<Result> {
  const pnp = join(p.app, '.pnp.cjs');
  const argv = [...(existsSync(pnp) ? ['-r', pnp] : []), '-e', "require('acme-lib')"];
  return exec(ready.node, argv, { cwd: p.app, env: p.env(homeOverride ? { HOME: homeOverride } : {}, ready.path), timeoutMs: 60_000 });
}

function runtimeProblems(ev: Received, m: Manager, node: string): string[] {
  const want: Array<[string, string | undefined, string]> = [
    ['{name}', ev.segments[0], 'acme-lib'],
    ['{version}', ev.segments[1], ACME_VERSION],
    ['{trigger}', ev.query.trigger, 'runtime'],
    ['{pm}', ev.query.pm, m.pm],
    ['{install}', ev.query.install, 'local'],
    ['{node}', ev.query.node, node],
  ];
  return want.filter(([, got, exp]) => got !== exp).map(([k, got, exp]) => `${k}=${got} (expected ${exp})`);
}

/** Bun or Deno as the runtime of the end user's program: the binary and what it reports as process.versions.node. */
interface Runner {
  bin: string;
  version: string;
  nodeVersion: string;
  path: string[];
}
const runners = new Map<string, Promise<Runner | string>>();
function runner(name: 'bun' | 'deno'): Promise<Runner | string> {
  let r = runners.get(name);
  if (!r) {
    r = (async () => {
      const t = await ensureTool(name, name === 'bun' ? 'latest' : '2');
      if (!t.ok) return `could not install ${name}: ${t.reason}`;
      const bin = join(t.tool.binDir, name);
      const v = await exec(bin, [name === 'bun' ? '-e' : 'eval', 'console.log(process.versions.node)'], { cwd: work, env: { ...process.env, DENO_NO_UPDATE_CHECK: '1' }, timeoutMs: 60_000 });
      if (v.code !== 0) return `${name} eval: exit ${v.code}: ${tail(v)}`;
      // The real file: Deno matches --allow-run=<path> against Deno.execPath() as given, symlinks unresolved.
      return { bin: realpathSync(bin), version: t.tool.version, nodeVersion: v.stdout.trim(), path: [t.tool.binDir] };
    })();
    runners.set(name, r);
  }
  return r;
}

const ESM_MAIN = "import 'acme-lib';\n";
const NPM_SPECIFIER_MAIN = "import 'npm:acme-lib';\n";

/** Install acme-lib with its postinstall blocked (npm 11: --ignore-scripts); the install must send nothing. */
async function blockedInstall(ready: Ready, label: string, problems: string[]): Promise<ReturnType<typeof newProject>> {
  const { m } = ready;
  const ignore = m.id === 'npm11' ? ['--ignore-scripts'] : [];
  const p = newProject(`${m.id}-${label}`);
  m.configure(p);
  p.save();
  const inst = await measure(0, () => exec(join(ready.tool.binDir, m.tool.bin), [...m.add(['acme-lib']), ...ignore], { cwd: p.app, env: p.env(m.env?.(p.home), ready.path), timeoutMs: 240_000 }));
  // pnpm 11+ exits 1 when it blocked a build (ERR_PNPM_IGNORED_BUILDS) though it installed everything: what counts is that acme-lib is there.
  if (!existsSync(join(p.app, 'node_modules', 'acme-lib')) && !existsSync(join(p.app, '.pnp.cjs'))) problems.push(`acme-lib was not installed (exit ${inst.value.code}): ${tail(inst.value)}`);
  if (inst.events.length !== 0) problems.push(`the install sent ${plural(inst.events.length, 'event')} (its postinstall should be blocked)`);
  return p;
}

const silent = (r: Result, what: string): string[] => (r.code !== 0 || r.stdout || r.stderr ? [`${what}: exit ${r.code}, printed ${JSON.stringify((r.stdout + r.stderr).slice(0, 200))}`] : []);
const markerDirOf = (p: ReturnType<typeof newProject>) => join(p.app, 'node_modules', '.install-beacon');

async function runtimeCases(m: Manager): Promise<void> {
  const ready = await prepare(m);
  if (typeof ready === 'string') {
    record({ table: 'runtime', row: m.label, col: RUNTIME_COLS[0], status: 'skip', cell: 'skipped', why: ready });
    return;
  }
  const row = `${m.label} (${ready.tool.version})`;
  const verdict = (col: string, problems: string[], cell: string) => record({ table: 'runtime', row, col, status: problems.length ? 'fail' : 'pass', cell, why: problems.join('; ') || undefined });
  // 1. Run by Node: the program runs twice: one event, from the first run.
  {
    const problems: string[] = [];
    const p = await blockedInstall(ready, 'runtime', problems);
    const runs = await measure(1, async () => [await loadAcme(ready, p), await loadAcme(ready, p)]);
    runs.value.forEach((r, i) => problems.push(...silent(r, `run ${i + 1}`)));
    if (runs.events.length !== 1) problems.push(`${plural(runs.events.length, 'event')} from two runs, expected 1`);
    // {node}: the host's Node runs the program, whatever the hook would have run on.
    for (const ev of runs.events) problems.push(...runtimeProblems(ev, m, m.hookOnSelf ? HOST_NODE : ready.nodeVersion));
    const cell = `${m.id === 'npm11' ? '`--ignore-scripts`: ' : ''}${plural(runs.events.length, 'event')}${runs.events[0] ? ` (trigger=${runs.events[0].query.trigger}, pm=${runs.events[0].query.pm})` : ''}`;
    verdict(RUNTIME_COLS[0], problems, cell);
  }
  if (OTHER_RUNTIME_TREES.includes(m.id)) {
    await bunRuns(ready, verdict);
    await denoRuns(ready, verdict);
  }
  if (m.id === 'deno') await denoCacheRuns(ready, verdict);
  // 2. pnpm 10's side-effects cache: project A runs the postinstall (1 event); project B, sharing
  //    A's store, gets the cached result without the script. B's first program run must report B's install.
  if (m.id === 'pnpm10') {
    const problems: string[] = [];
    const a = newProject('pnpm10-store-a');
    m.configure(a);
    m.allow(a);
    a.save();
    const pnpmBin = join(ready.tool.binDir, m.tool.bin);
    const first = await measure(1, async () => {
      const r = await exec(pnpmBin, m.add(['acme-lib']), { cwd: a.app, env: a.env(m.env?.(a.home), ready.path), timeoutMs: 240_000 });
      return [r, await loadAcme(ready, a)];
    });
    if (first.events.length !== 1 || first.events[0]?.query.trigger !== 'postinstall') problems.push(`project A: ${plural(first.events.length, 'event')} (${first.events.map((e) => e.query.trigger).join(',')}), expected 1 from the postinstall`);
    const b = newProject('pnpm10-store-b');
    m.configure(b);
    m.allow(b);
    b.save();
    // B uses A's HOME, hence A's store and its side-effects cache.
    const second = await measure(1, async () => {
      const r = await exec(pnpmBin, m.add(['acme-lib']), { cwd: b.app, env: b.env({ HOME: a.home, ...m.env?.(a.home) }, ready.path), timeoutMs: 240_000 });
      return [r, await loadAcme(ready, b, a.home), await loadAcme(ready, b, a.home)];
    });
    for (const r of [...first.value, ...second.value]) if (r.code !== 0) problems.push(`exit ${r.code}: ${tail(r)}`);
    if (second.events.length !== 1) problems.push(`project B: ${plural(second.events.length, 'event')}, expected 1`);
    const cell = `A: ${first.events.map((e) => e.query.trigger).join(', ') || 'none'}; B: ${second.events.map((e) => e.query.trigger).join(', ') || 'none'}`;
    verdict(RUNTIME_COLS[4], problems, cell);
  }
}

/**
 * The opt-outs, on whichever runtime `run` uses: DO_NOT_TRACK=1, INSTALL_BEACON_DISABLED=1,
 * the machine-wide file (`install-beacon disable`) and the project's `"installBeacon": {"enabled": false}`: no event,
 * no connection, no marker, nothing printed. Problems found, if any.
 */
async function optOutRuns(p: ReturnType<typeof newProject>, run: (extra: Record<string, string>) => Promise<Result>): Promise<string[]> {
  const problems: string[] = [];
  const machineFile = join(p.home, '.config', 'install-beacon', 'disabled');
  const pkgFile = join(p.app, 'package.json');
  const pkgText = readFileSync(pkgFile, 'utf8');
  const cases: Array<[string, () => void, Record<string, string>, () => void]> = [
    ['DO_NOT_TRACK=1', () => undefined, { DO_NOT_TRACK: '1' }, () => undefined],
    ['INSTALL_BEACON_DISABLED=1', () => undefined, { INSTALL_BEACON_DISABLED: '1' }, () => undefined],
    ['the machine-wide opt-out file', () => { mkdirSync(dirname(machineFile), { recursive: true }); writeFileSync(machineFile, ''); }, {}, () => rmSync(machineFile)],
    ['the project\'s "installBeacon": {"enabled": false}', () => writeFileSync(pkgFile, JSON.stringify({ ...JSON.parse(pkgText), installBeacon: { enabled: false } })), {}, () => writeFileSync(pkgFile, pkgText)],
  ];
  for (const [what, before, extra, after] of cases) {
    before();
    const got = await measure(0, () => run(extra));
    after();
    problems.push(...silent(got.value, what));
    if (got.events.length || got.connections) problems.push(`${what}: ${plural(got.events.length, 'event')}, ${plural(got.connections, 'connection')}, expected none`);
    if (existsSync(markerDirOf(p)) && readdirSync(markerDirOf(p)).length) problems.push(`${what}: a marker was written`);
  }
  return problems;
}

type Verdict = (col: string, problems: string[], cell: string) => void;

/**
 * Run by Bun: `bun -e "require('acme-lib')"` (CommonJS) must report once; then,
 * with the marker deleted, `bun main.mjs` (`import 'acme-lib'`) twice must
 * report once more. Nothing printed, exit 0.
 */
async function bunRuns(ready: Ready, verdict: Verdict): Promise<void> {
  const col = RUNTIME_COLS[1];
  const b = await runner('bun');
  if (typeof b === 'string') return record({ table: 'runtime', row: `${ready.m.label} (${ready.tool.version})`, col, status: 'skip', cell: 'skipped', why: b });
  const problems: string[] = [];
  const p = await blockedInstall(ready, 'bun-runs', problems);
  writeFileSync(join(p.app, 'main.mjs'), ESM_MAIN);
  const env = p.env(ready.m.env?.(p.home), [...b.path, ...ready.path]);
  const bun = (argv: string[], extra: Record<string, string> = {}) => exec(b.bin, argv, { cwd: p.app, env: { ...env, ...extra }, timeoutMs: 60_000 });
  problems.push(...(await optOutRuns(p, (extra) => bun(['main.mjs'], extra))));
  const cjs = await measure(1, async () => [await bun(['-e', "require('acme-lib')"]), await bun(['-e', "require('acme-lib')"])]);
  rmSync(markerDirOf(p), { recursive: true, force: true });
  const esm = await measure(1, async () => [await bun(['main.mjs']), await bun(['main.mjs'])]);
  [...cjs.value, ...esm.value].forEach((r, i) => problems.push(...silent(r, `run ${i + 1}`)));
  if (cjs.events.length !== 1) problems.push(`require: ${plural(cjs.events.length, 'event')} from two runs, expected 1`);
  if (esm.events.length !== 1) problems.push(`import (marker deleted): ${plural(esm.events.length, 'event')} from two runs, expected 1`);
  for (const ev of [...cjs.events, ...esm.events]) problems.push(...runtimeProblems(ev, ready.m, b.nodeVersion));
  verdict(col, problems, `bun ${b.version}: 4 opt-outs: 0 events; require ${plural(cjs.events.length, 'event')}, import ${plural(esm.events.length, 'event')}${cjs.events[0] ? ` (trigger=${cjs.events[0].query.trigger}, pm=${cjs.events[0].query.pm})` : ''}`);
}

/** The permissions README "Bun and Deno" names: what counts an install under Deno. */
const denoGrants = (deno: string) => ['--allow-env', '--allow-read', '--allow-write=node_modules/.install-beacon', `--allow-run=${deno}`];
const DENO_GRANTS_SHOWN = denoGrants('<path of deno>').join(' ');

/**
 * Run by Deno (a package.json project, node_modules from the manager): with no
 * permissions, and with all but --allow-run, on a terminal, where Deno would
 * prompt: nothing sent, nothing asked, exit 0; then twice with DENO_GRANTS: one event; then, marker deleted,
 * an `npm:acme-lib` specifier with -A: one event.
 */
async function denoRuns(ready: Ready, verdict: Verdict): Promise<void> {
  const col = RUNTIME_COLS[2];
  const d = await runner('deno');
  if (typeof d === 'string') return record({ table: 'runtime', row: `${ready.m.label} (${ready.tool.version})`, col, status: 'skip', cell: 'skipped', why: d });
  const problems: string[] = [];
  const p = await blockedInstall(ready, 'deno-runs', problems);
  writeFileSync(join(p.app, 'main.mjs'), ESM_MAIN);
  writeFileSync(join(p.app, 'spec.mjs'), NPM_SPECIFIER_MAIN);
  const env = p.env({ DENO_DIR: join(p.home, '.cache', 'deno'), DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' }, [...d.path, ...ready.path]);
  const deno = (argv: string[], extra: Record<string, string> = {}) => exec(d.bin, ['run', ...argv], { cwd: p.app, env: { ...env, ...extra }, timeoutMs: 60_000 });
  problems.push(...(await optOutRuns(p, (extra) => deno(['-A', 'main.mjs'], extra))));
  // util-linux script(1) gives the program a terminal (Deno prompts only on one); stdin is empty, so a prompt would be answered "no" and show in the output.
  const onTerminal = (flags: string) => exec('script', ['-qec', `${d.bin} run ${flags} main.mjs`, '/dev/null'], { cwd: p.app, env, timeoutMs: 60_000 });
  // No permissions; then all but the last one checked (run), so that every query up to it is made for real.
  let printed = '';
  let quiet = 0;
  for (const [what, flags] of [['no permissions', ''], ['all but --allow-run', '--allow-env --allow-read --allow-write']] as const) {
    const r = await measure(0, () => onTerminal(flags));
    const out = r.value.stdout.replace(/\r/g, '') + r.value.stderr;
    printed += out.trim();
    quiet += r.events.length;
    if (r.value.code !== 0 || out.trim()) problems.push(`${what}, on a terminal: exit ${r.value.code}, printed ${JSON.stringify(out.slice(0, 300))}`);
    if (r.events.length || r.connections) problems.push(`${what}: ${plural(r.events.length, 'event')}, ${plural(r.connections, 'connection')}, expected none`);
    if (existsSync(markerDirOf(p))) problems.push(`${what}: a marker folder was written`);
  }
  const grants = denoGrants(d.bin);
  const granted = await measure(1, async () => [await deno([...grants, 'main.mjs']), await deno([...grants, 'main.mjs'])]);
  rmSync(markerDirOf(p), { recursive: true, force: true });
  const spec = await measure(1, async () => [await deno(['-A', 'spec.mjs'])]);
  [...granted.value, ...spec.value].forEach((r, i) => problems.push(...silent(r, `run ${i + 1}`)));
  if (granted.events.length !== 1) problems.push(`${DENO_GRANTS_SHOWN}: ${plural(granted.events.length, 'event')} from two runs, expected 1`);
  if (spec.events.length !== 1) problems.push(`npm: specifier (marker deleted): ${plural(spec.events.length, 'event')}, expected 1`);
  for (const ev of [...granted.events, ...spec.events]) problems.push(...runtimeProblems(ev, ready.m, d.nodeVersion));
  verdict(col, problems, `deno ${d.version}: 4 opt-outs (-A): 0 events; no permissions, or all but \`--allow-run\` (terminal): ${plural(quiet, 'event')}, ${printed ? 'printed something' : 'no prompt, silent'}; \`${DENO_GRANTS_SHOWN}\`: ${plural(granted.events.length, 'event')} from two runs; \`npm:acme-lib\`: ${plural(spec.events.length, 'event')}`);
}

/**
 * A script with no package.json: `deno run -A` of `import 'npm:acme-lib'`
 * downloads acme-lib into Deno's own cache (DENO_DIR/npm/<registry>/acme-lib/2.3.4),
 * with no node_modules anywhere. Two runs: one event; the marker lives in the cache.
 */
async function denoCacheRuns(ready: Ready, verdict: Verdict): Promise<void> {
  const col = RUNTIME_COLS[3];
  const d = await runner('deno');
  if (typeof d === 'string') return record({ table: 'runtime', row: `${ready.m.label} (${ready.tool.version})`, col, status: 'skip', cell: 'skipped', why: d });
  const problems: string[] = [];
  const p = newProject('deno-npm-cache');
  const denoDir = join(p.home, '.cache', 'deno');
  writeFileSync(join(p.app, 'spec.mjs'), NPM_SPECIFIER_MAIN);
  const env = p.env({ DENO_DIR: denoDir, DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1', NPM_CONFIG_REGISTRY: registry!.url, INSTALL_BEACON_DEBUG: process.env.MATRIX_DEBUG }, d.path);
  const deno = () => exec(d.bin, ['run', '-A', '--minimum-dependency-age=0', 'spec.mjs'], { cwd: p.app, env, timeoutMs: 60_000 });
  const runs = await measure(1, async () => [await deno(), await deno()]);
  // The first run downloads: Deno itself prints each download and a warning that acme-lib's
  // postinstall was ignored; nothing of it may come from install-beacon. The second run: silence.
  const [first, second] = runs.value as [Result, Result];
  if (first.code !== 0 || /install-beacon/.test(first.stdout + first.stderr.replace(/^Download \S+$/gm, ''))) problems.push(`run 1: exit ${first.code}, printed ${JSON.stringify((first.stdout + first.stderr).slice(0, 300))}`);
  problems.push(...silent(second, 'run 2'));
  const marker = join(denoDir, 'npm');
  if (!readdirSync(marker).some((reg) => existsSync(join(marker, reg, '.install-beacon')))) problems.push(`no marker folder in ${marker}/<registry>/.install-beacon`);
  if (runs.events.length !== 1) problems.push(`${plural(runs.events.length, 'event')} from two runs, expected 1`);
  for (const ev of runs.events) problems.push(...runtimeProblems(ev, ready.m, d.nodeVersion));
  verdict(col, problems, `deno ${d.version}: ${plural(runs.events.length, 'event')}${runs.events[0] ? ` (trigger=${runs.events[0].query.trigger}, pm=${runs.events[0].query.pm})` : ''}`);
}

// ---- the built bin under each Node version ----

async function nodeCases(acmePkg: Record<string, unknown>): Promise<void> {
  for (const version of NODE_VERSIONS) {
    const row = `Node ${version}`;
    const n = await ensureNode(version);
    if (!n.ok) {
      record({ table: 'node', row, col: 'events', status: 'skip', cell: 'skipped', why: n.reason });
      continue;
    }
    const p = newProject(`node-${version}`);
    const pkgDir = join(p.app, 'node_modules', 'acme-lib');
    mkdirSync(pkgDir, { recursive: true });
    writeFileSync(join(pkgDir, 'package.json'), JSON.stringify(acmePkg, null, 2));
    p.save();
    // What npm 10 hands a dependency's postinstall.
    const env = p.env(
      {
        INIT_CWD: p.app,
        npm_lifecycle_event: 'postinstall',
        npm_package_name: 'acme-lib',
        npm_package_version: ACME_VERSION,
        npm_package_json: join(pkgDir, 'package.json'),
        npm_command: 'install',
        npm_config_user_agent: `npm/10.9.9 node/v${version} ${process.platform} ${process.arch} workspaces/false`,
      },
      [dirname(n.node)],
    );
    const sends = Number(version.split('.')[0]) >= 18;
    const { value: r, events, connections } = await measure(sends ? 1 : 0, () => exec(n.node, [BIN], { cwd: pkgDir, env, timeoutMs: 60_000 }));
    const problems: string[] = [];
    if (r.code !== 0) problems.push(`exit ${r.code}: ${tail(r)}`);
    if (sends) {
      if (events.length !== 1) problems.push(`${plural(events.length, 'event')}, expected 1`);
      for (const ev of events) problems.push(...fieldProblems(ev, { pm: 'npm', pmVersion: '10.9.9', install: 'local', node: version }));
    } else {
      if (events.length || connections) problems.push(`${plural(events.length, 'event')} and ${plural(connections, 'connection')}, expected none`);
      if (r.stdout || r.stderr) problems.push(`printed ${JSON.stringify((r.stdout + r.stderr).slice(0, 200))}, expected silence`);
    }
    const cell = `${plural(events.length, 'event')}, exit ${r.code}${!r.stdout && !r.stderr ? ', silent' : ''}`;
    record({ table: 'node', row, col: 'events', status: problems.length ? 'fail' : 'pass', cell, why: problems.join('; ') || undefined });
  }
}

// ---- the layout table: each manager × its layout settings × an install's life ----

const readies = new Map<string, Promise<Ready | string>>();
const readyFor = (m: Manager) => {
  let r = readies.get(m.id);
  if (!r) readies.set(m.id, (r = prepare(m)));
  return r;
};

/** The program the end user runs: loads acme-lib (whose main calls reportInstall) from `dir`, through the project's .pnp.cjs where there is one. */
function program(ready: Ready, root: string, dir: string, env: NodeJS.ProcessEnv, wrap: string[] = []): Promise<Result> {
  const pnp = join(root, '.pnp.cjs');
  const argv = [...(existsSync(pnp) ? ['-r', pnp] : []), '-e', "require('acme-lib')"];
  return wrap.length ? exec(wrap[0]!, [...wrap.slice(1), ready.node, ...argv], { cwd: dir, env, timeoutMs: 60_000 }) : exec(ready.node, argv, { cwd: dir, env, timeoutMs: 60_000 });
}

const canMount = (() => {
  try {
    return process.getuid?.() === 0 && spawnSync('unshare', ['-m', 'true'], { stdio: 'ignore' }).status === 0;
  } catch {
    return false;
  }
})();

async function layoutCases(l: Layout): Promise<void> {
  const m = MANAGERS.find((x) => x.id === l.manager)!;
  const ready = await readyFor(m);
  const verdict = (col: LayoutEvent | `${LayoutEvent} opt-out`, problems: string[], cell: string) =>
    record({ table: 'layouts', row: l.label, col, status: problems.length ? 'fail' : 'pass', cell, why: problems.join('; ') || undefined });
  if (typeof ready === 'string') {
    for (const e of LAYOUT_EVENTS) if (!l.skip?.[e]) record({ table: 'layouts', row: l.label, col: e, status: 'skip', cell: 'skipped', why: ready });
    return;
  }
  rowInfo.set(l.label, ready.tool.version);
  const verbs = verbsFor(m.id);
  const bin = join(ready.tool.binDir, m.tool.bin);
  const make = (suffix: string, optOut: boolean) => {
    const p = newProject(`layout-${l.id}${suffix}`);
    m.configure(p);
    m.allow(p);
    if (optOut) p.pkg.installBeacon = { enabled: false };
    l.setup?.(p);
    p.save();
    return p;
  };
  const at = (p: Project) => (l.member ? join(p.app, l.member) : p.app);
  const envOf = (p: ReturnType<typeof newProject>) => p.env(m.env?.(p.home), ready.path);
  const pm = (p: ReturnType<typeof newProject>, argv: string[], cwd = at(p)) => exec(bin, argv, { cwd, env: envOf(p), timeoutMs: 240_000 });
  const add = (spec: string) => [...m.add([spec]), ...(m.allowArgs ? m.allowArgs(['acme-lib']) : [])];

  /** One step: the manager commands, then the program; the events they gave against what the cell must give. */
  const step = async (p: ReturnType<typeof newProject>, e: LayoutEvent, want: number, commands: string[][], options: { version?: string; cwd?: string; root?: string } = {}) => {
    const problems: string[] = [];
    const got = await measure(want, async () => {
      for (const argv of commands) {
        const r = await pm(p, argv, options.root);
        if (r.code !== 0) problems.push(`\`${m.tool.bin} ${argv.join(' ')}\`: exit ${r.code}: ${tail(r)}`);
      }
      const r = await program(ready, options.root ?? p.app, options.cwd ?? at(p), envOf(p));
      problems.push(...silent(r, 'the program'));
    });
    if (got.events.length !== want) problems.push(`${plural(got.events.length, 'event')}, expected ${want}`);
    for (const ev of got.events) if (ev.segments[0] !== 'acme-lib' || ev.segments[1] !== (options.version ?? '2.3.5')) problems.push(`an event for ${ev.segments[0]}@${ev.segments[1]}`);
    return { problems, events: got.events };
  };
  const cellOf = (n: number, e: LayoutEvent) => `${plural(n, 'event')}${expected(l, e).why ? ` (${expected(l, e).why})` : ''}`;

  // The life of one project, each event after the one before.
  const p = make('', false);
  const steps: Array<[LayoutEvent, () => Promise<{ problems: string[]; events: Received[] }>]> = [
    ['install', () => step(p, 'install', expected(l, 'install').events, [add('acme-lib@2.3.4')], { version: '2.3.4' })],
    ['rebuild', () => step(p, 'rebuild', expected(l, 'rebuild').events, [m.rebuild ?? []], { version: '2.3.4' })],
    ['dedupe', () => step(p, 'dedupe', expected(l, 'dedupe').events, [verbs.dedupe ?? []], { version: '2.3.4' })],
    ['update', () => step(p, 'update', expected(l, 'update').events, [add('acme-lib@2.3.5')])],
    ['remove+add', () => step(p, 'remove+add', expected(l, 'remove+add').events, [verbs.remove('acme-lib'), add('acme-lib@2.3.5')])],
    ['ci', () => ciStep(p, false)],
    ['image layer', () => imageStep(p)],
    ['copy', () => copyStep(p)],
    ['other user', () => otherUserStep(p)],
  ];
  const ciStep = async (from: ReturnType<typeof newProject>, optOut: boolean) => {
    const q = newProject(`layout-${l.id}-ci${optOut ? '-optout' : ''}`);
    m.configure(q);
    for (const f of verbs.files) if (existsSync(join(from.app, f))) cpSync(join(from.app, f), join(q.app, f));
    if (l.member) for (const d of readdirSync(join(from.app, 'packages'))) {
      mkdirSync(join(q.app, 'packages', d), { recursive: true });
      cpSync(join(from.app, 'packages', d, 'package.json'), join(q.app, 'packages', d, 'package.json'));
    }
    const frozen = [...verbs.frozen, ...(m.allowArgs ? m.allowArgs(['acme-lib']) : [])];
    return step(q, 'ci', optOut ? 0 : expected(l, 'ci').events, [frozen], { root: q.app, cwd: at(q) });
  };
  const imageStep = async (from: ReturnType<typeof newProject>) => {
    const problems: string[] = [];
    if (!canMount) return { problems: ['not root, or unshare -m is not permitted'], events: [] };
    const layers = join(dirname(from.app), 'layers');
    const got = await measure(0, async () => {
      for (let i = 0; i < 3; i++) {
        for (const d of ['u', 'w']) mkdirSync(join(layers, `${d}${i}`), { recursive: true });
        const pnp = existsSync(join(from.app, '.pnp.cjs')) ? `-r ${join(from.app, '.pnp.cjs')} ` : '';
        const script = [`mount -t overlay overlay -o lowerdir=${from.app},upperdir=${layers}/u${i},workdir=${layers}/w${i} ${from.app}`, `cd ${at(from)}`, `${ready.node} ${pnp}-e "require('acme-lib')"`].join('\n');
        const r = await exec('unshare', ['-m', 'sh', '-ec', script], { cwd: dirname(from.app), env: envOf(from), timeoutMs: 60_000 });
        problems.push(...silent(r, `container ${i + 1}`));
      }
    });
    if (got.events.length !== expected(l, 'image layer').events) problems.push(`${plural(got.events.length, 'event')} from three containers, expected ${expected(l, 'image layer').events}`);
    return { problems, events: got.events };
  };
  const copyStep = async (from: ReturnType<typeof newProject>) => {
    const copy = `${from.app}-copy`;
    const r = await exec('cp', ['-a', from.app, copy], { cwd: dirname(from.app), env: envOf(from) });
    if (r.code !== 0) return { problems: [`cp -a: exit ${r.code}: ${tail(r)}`], events: [] };
    return step(from, 'copy', expected(l, 'copy').events, [], { root: copy, cwd: l.member ? join(copy, l.member) : copy });
  };
  const otherUserStep = async (from: ReturnType<typeof newProject>) => {
    if (process.getuid?.() !== 0) return { problems: ['not root: cannot run as another user'], events: [] };
    // The tree readable (not writable) by uid 65534, as a root-built image or a shared checkout is.
    for (let d = dirname(from.app); d.startsWith(work); d = dirname(d)) chmodSync(d, 0o755);
    await exec('chmod', ['-R', 'a+rX', dirname(from.app)], { cwd: work, env: envOf(from) });
    const home = join(dirname(from.app), 'nobody-home');
    mkdirSync(home, { recursive: true });
    chmodSync(home, 0o777);
    const problems: string[] = [];
    const env = { ...envOf(from), HOME: home, TMPDIR: home, TMP: home, TEMP: home };
    const got = await measure(0, async () => problems.push(...silent(await program(ready, from.app, at(from), env, ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups']), 'the program as uid 65534')));
    if (got.events.length !== expected(l, 'other user').events) problems.push(`${plural(got.events.length, 'event')}, expected ${expected(l, 'other user').events}`);
    return { problems, events: got.events };
  };

  let broken = '';
  for (const [e, run] of steps) {
    if (l.skip?.[e]) continue;
    if (broken) {
      verdict(e, [broken], 'not run');
      continue;
    }
    const { problems, events } = await run();
    verdict(e, problems, cellOf(events.length, e));
    // Later steps build on the install: without it they would measure nothing.
    if (e === 'install' && problems.length) broken = 'the install step failed';
  }

  // The project's opt-out ("installBeacon": {"enabled": false} in its package.json) through the events that count.
  const o = make('-optout', true);
  const optOutSteps: Array<[LayoutEvent, () => Promise<{ problems: string[]; events: Received[] }>]> = [
    ['install', () => step(o, 'install', 0, [add('acme-lib@2.3.4')], { version: '2.3.4' })],
    ['update', () => step(o, 'update', 0, [add('acme-lib@2.3.5')])],
    ['remove+add', () => step(o, 'remove+add', 0, [verbs.remove('acme-lib'), add('acme-lib@2.3.5')])],
    ['ci', () => ciStep(o, true)],
  ];
  for (const [e, run] of optOutSteps) {
    if (l.skip?.[e] || l.skip?.[`${e} opt-out`]) continue;
    const { problems, events } = await run();
    verdict(`${e} opt-out`, problems, plural(events.length, 'event'));
  }
}

// ---- the README table ----

function renderTables(counts: Record<Status, number>): string {
  const cell = (o: Outcome | undefined) => {
    if (!o) return 'n/a';
    if (o.status === 'skip') return `skipped: ${o.why}`;
    if (o.status === 'fail') return `**FAIL**: ${o.cell} (${o.why})`;
    return o.cell;
  };
  const find = (table: string, row: string, col: string) => outcomes.find((o) => o.table === table && o.row === row && o.col === col);
  const esc = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const lines: string[] = [];
  lines.push('| package manager | default settings | scripts allowed | `DO_NOT_TRACK=1` | global install | rebuild of the same install | how the end user allows the postinstall |');
  lines.push('|---|---|---|---|---|---|---|');
  for (const m of MANAGERS) {
    if (only && !only.test(m.id)) continue;
    const info = rowInfo.get(m.label);
    const cols = ['default settings', 'scripts allowed', 'DO_NOT_TRACK=1', 'global install', 'rebuild'].map((c) => esc(cell(find('managers', m.label, c))));
    lines.push(`| ${m.label}${info ? ` (${info})` : ''} | ${cols.join(' | ')} | ${m.allowHow} |`);
  }
  lines.push('');
  lines.push(`npm situations${rowInfo.get('npm situations') ? ` (${rowInfo.get('npm situations')})` : ''}:`);
  lines.push('');
  lines.push('| situation | events |');
  lines.push('|---|---|');
  for (const o of outcomes.filter((x) => x.table === 'npm')) lines.push(`| ${o.row} | ${esc(cell(o))} |`);
  lines.push('');
  lines.push('The runtime trigger, `reportInstall()` in acme-lib\'s main module, where the postinstall did not run (acme-lib installed with its postinstall blocked, then a program that loads it run twice; "4 opt-outs": `DO_NOT_TRACK=1`, `INSTALL_BEACON_DISABLED=1`, `install-beacon disable`\'s file and the project setting, each run first and sending nothing):');
  lines.push('');
  lines.push(`| installed by | ${RUNTIME_COLS.join(' | ')} |`);
  lines.push(`|${RUNTIME_COLS.map(() => '---|').join('')}---|`);
  for (const row of [...new Set(outcomes.filter((x) => x.table === 'runtime').map((x) => x.row))]) {
    const cols = RUNTIME_COLS.map((c) => esc(cell(find('runtime', row, c))));
    lines.push(`| ${row} | ${cols.join(' | ')} |`);
  }
  lines.push('');
  lines.push('The built bin run as a postinstall under each Node.js version:');
  lines.push('');
  lines.push('| Node.js | result |');
  lines.push('|---|---|');
  for (const o of outcomes.filter((x) => x.table === 'node')) lines.push(`| ${o.row.replace('Node ', '')} | ${esc(cell(o))} |`);
  lines.push('');
  if (outcomes.some((x) => x.table === 'layouts')) {
    lines.push('The layout table: each package manager with each layout setting, through the life of one project (scripts allowed the way the README tells users; each step after the one before, and its count is that step\'s alone). "opted out": the same steps in a project whose package.json says `"installBeacon": {"enabled": false}`. n/a: not measured, for the reason given.');
    lines.push('');
    for (const e of LAYOUT_EVENTS) lines.push(`- **${e}**: ${EVENT_RULES[e].what}; must give ${plural(EVENT_RULES[e].events, 'event')}${EVENT_RULES[e].optOut ? ', and none when opted out' : ''}.`);
    lines.push('');
    lines.push(`| layout | ${LAYOUT_EVENTS.join(' | ')} |`);
    lines.push(`|---|${LAYOUT_EVENTS.map(() => '---|').join('')}`);
    for (const l of LAYOUTS) {
      const row = outcomes.filter((x) => x.table === 'layouts' && x.row === l.label);
      if (!row.length) continue;
      const cols = LAYOUT_EVENTS.map((e) => {
        if (l.skip?.[e]) return `n/a: ${l.skip[e]}`;
        const main = cell(row.find((x) => x.col === e));
        const opted = row.find((x) => x.col === `${e} opt-out`);
        const notRun = l.skip?.[`${e} opt-out`];
        return esc(opted ? `${main}; opted out: ${cell(opted)}` : notRun ? `${main}; opted out: n/a: ${notRun}` : main);
      });
      lines.push(`| ${l.label}${rowInfo.get(l.label) ? ` (${rowInfo.get(l.label)})` : ''} | ${cols.join(' | ')} |`);
    }
    lines.push('');
  }
  lines.push(`Measured on ${process.platform} ${process.arch} by \`npm run test:matrix\` (rewritten by every full run): ${counts.pass} passed, ${counts.fail} failed, ${counts.skip} skipped.`);
  return lines.join('\n');
}

/** The README's committed table block and where it sits. */
function readmeBlock(): { text: string; a: number; b: number; block: string } {
  const text = readFileSync(README, 'utf8');
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  if (a === -1 || b < a) throw new Error(`docs/compatibility.md has no ${START} ... ${END} block`);
  return { text, a, b, block: text.slice(a + START.length, b).trim() };
}

function updateReadme(tables: string): void {
  const { text, a, b } = readmeBlock();
  writeFileSync(README, `${text.slice(0, a + START.length)}\n${tables}\n${text.slice(b)}`);
}

// ---- main ----

async function main(): Promise<Record<Status, number> & { drift: number }> {
  // Process groups, node-<os>-<arch> binaries and shebang bins: Linux (and probably macOS), not Windows.
  if (process.platform === 'win32') throw new Error('the matrix runs on Linux (the unit tests run everywhere)');
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run npm run build first`);
  console.log(`matrix: work dir ${work}, tool cache ${CACHE}, host Node ${HOST_NODE}`);
  const selected = MANAGERS.filter((m) => !only || only.test(m.id));
  const runNpm = !only || only.test('npm-situations');
  const runNode = !only || only.test('node');
  const layouts = LAYOUTS.filter((l) => !only || only.test('layouts') || only.test(`layout:${l.id}`));

  // Fetch every tool at once (downloads overlap); the cases below wait for what they need.
  const verdaccio = ensureTool(VERDACCIO.name, VERDACCIO.range, { overrides: VERDACCIO.overrides });
  for (const m of selected) void ensureTool(m.tool.name, m.tool.range);
  for (const l of layouts) for (const m of MANAGERS) if (m.id === l.manager) void ensureTool(m.tool.name, m.tool.range);
  if (runNode) for (const v of NODE_VERSIONS) void ensureNode(v);
  else if (selected.some((m) => m.node)) for (const m of selected) if (m.node) void ensureNode(m.node.version);

  collector = await startCollector();
  const pack = join(work, 'pack');
  mkdirSync(pack);
  const installBeacon = { url: `${collector.base}/{name}/{version}/{platform}/{arch}?${TEMPLATE_QUERY}`, delivery: 'inline' };
  const beaconTgz = packBeacon(pack);
  // acme-lib also calls reportInstall() from its main module: the runtime cases load it.
  const acmeTgz = packAcme(pack, { installBeacon, main: "require('install-beacon').reportInstall(__filename);\nmodule.exports = 42;\n" });
  // The layout table's update step installs a newer version.
  const acmeNextTgz = packAcme(pack, { installBeacon, version: '2.3.5', main: "require('install-beacon').reportInstall(__filename);\nmodule.exports = 42;\n" });
  const otherTgz = packAcme(pack, { name: 'other-lib', version: ACME_VERSION, installBeacon });
  const controlTgz = packAcme(pack, { name: 'acme-control', version: ACME_VERSION, postinstall: 'node -e "process.exit(0)"', extra: { dependencies: {} } });
  const acmePkg = JSON.parse(readFileSync(join(dirname(acmeTgz), 'package.json'), 'utf8')) as Record<string, unknown>;

  const v = await verdaccio;
  if (!v.ok) throw new Error(`cannot run the local registry: ${v.reason}`);
  const regNode = await ensureNode('20.20.2');
  registry = await startRegistry(v.tool, regNode.ok ? regNode.node : process.execPath, join(work, 'registry'));
  console.log(`matrix: verdaccio ${v.tool.version} on ${registry.url} (pid ${registry.pid}), collector on ${collector.base}`);
  const publishHome = join(work, 'publish');
  mkdirSync(publishHome);
  for (const tgz of [beaconTgz, acmeTgz, otherTgz, controlTgz]) await registry.publish(tgz, publishHome);
  // Not `latest`: every other table installs plain `acme-lib`, which must stay 2.3.4.
  await registry.publish(acmeNextTgz, publishHome, 'next');

  // Cases run one at a time: each owns the collector while it runs, so its event
  // and connection counts are its own.
  for (const m of selected) await managerCases(m);
  if (runNpm) await npmCases(MANAGERS.find((m) => m.id === 'npm11')!, dirname(acmeTgz));
  for (const m of selected) if (RUNTIME_MANAGERS.includes(m.id)) await runtimeCases(m);
  if (runNode) await nodeCases(acmePkg);
  for (const l of layouts) await layoutCases(l);

  const counts: Record<Status, number> = { pass: 0, fail: 0, skip: 0 };
  for (const o of outcomes) counts[o.status]++;
  const tables = renderTables(counts);
  console.log(`\n${tables}\n`);
  // The README's table is a claim: a full run whose results differ from it fails
  // (the table is rewritten, so the difference shows in git diff, to review and commit).
  const drift = checkReadme ? tableDrift(readmeBlock().block, tables) : [];
  if (drift.length) console.error(`matrix: FAIL: docs/compatibility.md's tables differ from this run's results:\n${drift.join('\n')}`);
  if (writeReadme) {
    updateReadme(tables);
    console.log('matrix: docs/compatibility.md rewritten');
  }
  return { ...counts, drift: drift.length };
}

// Places the tools write to when a HOME, prefix or cache setting is missed (yarn 1 as
// root uses /usr/local/share, for one): none may appear during the run.
const OUTSIDE = [
  '/usr/local/share/.config/yarn',
  '/usr/local/share/.cache/yarn',
  '/usr/local/lib/node_modules/acme-lib',
  '/usr/lib/node_modules/acme-lib',
  ...['.bun', '.local/share/pnpm', '.cache/pnpm', '.yarn', '.yarnrc', '.config/yarn', '.cache/yarn', '.config/install-beacon', '.bunfig.toml'].map((f) => join(homedir(), f)),
];
const existedBefore = new Set(OUTSIDE.filter((f) => existsSync(f)));

let counts: (Record<Status, number> & { drift: number }) | undefined;
try {
  counts = await main();
} catch (e) {
  console.error(`matrix: error: ${(e as Error).stack ?? e}`);
} finally {
  await registry?.stop();
  await collector?.close();
  cleanup();
}
const strays = OUTSIDE.filter((f) => existsSync(f) && !existedBefore.has(f));
if (strays.length) console.error(`matrix: FAIL: the run wrote outside its temp dir: ${strays.join(', ')}`);
const total = ((Date.now() - started) / 1000).toFixed(0);
// A skipped row is a row nobody checked (its tool could not be installed or run
// here): it fails the run as a failed row does, or a broken download would pass.
if (counts?.skip) console.error(`matrix: FAIL: ${counts.skip} cells skipped (see "skipped:" in the table): a row that cannot run fails the run`);
if (counts) console.log(`matrix: ${counts.pass} passed, ${counts.fail + strays.length} failed, ${counts.skip} skipped, README drift ${counts.drift ? 'yes' : 'none'} in ${total} s`);
else console.log(`matrix: aborted after ${total} s (see the error above)`);
process.exit(counts && runPassed({ ...counts, strays: strays.length }) ? 0 : 1);
