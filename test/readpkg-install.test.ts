import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startCollector, type Collector } from './support/collector.js';
import { npmLocal, packAcme, packBeacon, REPORTING_MAIN, writeProject } from './support/fixture.js';
import { baseEnv, BIN, run, sendersDone, TempDirs } from './support/process.js';
import { needs } from './support/tools.js';

// How the hook reads package.json files and finds the workspace root (issue
// 19, items 1, 2 and 9), in real npm and pnpm installs of packed fixtures
// (inline delivery: every event has arrived when the command returns).

const CACHE = process.env.INSTALL_BEACON_MATRIX_CACHE || join(homedir(), '.cache', 'install-beacon-matrix');
const PNPM = join(CACHE, 'pnpm@10.34.9', 'node_modules', 'pnpm', 'bin', 'pnpm.cjs');
const DEAD = 'http://127.0.0.1:9/';

const temps = new TempDirs();
let collector: Collector;
let tarballs: string;
let beacon: string;
let acme: string;
let acme1: string;
let home: string;
const fifos: string[] = [];

beforeAll(async () => {
  collector = await startCollector();
  tarballs = temps.make('ib-rp-tarballs-');
  home = temps.make('ib-rp-home-');
  beacon = packBeacon(tarballs);
  const config = { url: `${collector.base}/{name}/{version}?trigger={trigger}`, delivery: 'inline' };
  const deps = { dependencies: { 'install-beacon': `file:${beacon}` } };
  acme = packAcme(tarballs, { installBeacon: config, main: REPORTING_MAIN, extra: deps });
  acme1 = packAcme(tarballs, { version: '1.0.0', installBeacon: config, main: REPORTING_MAIN, extra: deps });
}, 120_000);
afterAll(async () => {
  // A hook the old code left blocked on a FIFO's open: give it a writer, so it reads EOF and exits.
  for (const fifo of fifos) {
    try {
      const fd = openSync(fifo, 'r+');
      writeSync(fd, '{}');
      closeSync(fd);
    } catch {
      // already gone
    }
  }
  await collector.close();
  temps.cleanup();
});
beforeEach(() => {
  collector.requests.length = 0;
});

const OFF = { installBeacon: { enabled: false } };
const npm = (cwd: string, args: string[]) => npmLocal(cwd, args, home);
const events = () => collector.requests.map((q) => `${q.segments.join('@')} ${q.query.trigger}`);

async function ok(p: Promise<{ code: number | null; stdout: string; stderr: string }>): Promise<void> {
  const r = await p;
  expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
}

/** A program run in `cwd` that loads acme-lib (it calls reportInstall), bounded; waits for any sender. */
async function programRun(cwd: string): Promise<void> {
  const r = await run(process.execPath, ['-e', "require('acme-lib')"], { cwd, env: baseEnv(home), timeoutMs: 20_000 });
  expect(r, 'the program ends on its own').toMatchObject({ code: 0, stderr: '' });
  await sendersDone(String(collector.port));
}

async function explained(cwd: string): Promise<{ send: boolean; rule: string } | undefined> {
  const r = await run(process.execPath, [BIN, 'explain', '--json'], { cwd, env: baseEnv(home), timeoutMs: 30_000 });
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { packages: { name: string; send: boolean; rule: string }[] }).packages.find((p) => p.name === 'acme-lib');
}

/** Give `file` a UTF-8 byte-order mark (again: npm rewrites package.json without one when it saves a dependency). */
function withBom(file: string): void {
  writeFileSync(file, `\uFEFF${readFileSync(file, 'utf8').replace(/^\uFEFF/, '')}`);
}

describe('a project package.json with a UTF-8 byte-order mark: its opt-out holds (item 1)', () => {
  it('npm install, npm ci, and --ignore-scripts then require: no event; explain sees the opt-out', async () => {
    const app = temps.make('ib-rp-bom-');
    writeProject(app, OFF);
    const pkg = join(app, 'package.json');
    withBom(pkg);
    expect(readFileSync(pkg)[0]).toBe(0xef);
    await ok(npm(app, ['install', beacon, acme]));
    expect(readdirSync(join(app, 'node_modules'))).toContain('acme-lib');
    expect(events(), 'npm install').toEqual([]);
    withBom(pkg);
    expect(await explained(app)).toMatchObject({ send: false, rule: 'project-opt-out' });
    rmSync(join(app, 'node_modules'), { recursive: true });
    await ok(npm(app, ['ci']));
    expect(events(), 'npm ci').toEqual([]);
    rmSync(join(app, 'node_modules'), { recursive: true });
    withBom(pkg);
    await ok(npm(app, ['ci', '--ignore-scripts']));
    withBom(pkg);
    await programRun(app);
    expect(events(), 'require after --ignore-scripts').toEqual([]);
  });

  it('control: the same file without the opt-out sends one event (the BOM does not hide the package)', async () => {
    const app = temps.make('ib-rp-bom-ctl-');
    writeProject(app);
    withBom(join(app, 'package.json'));
    await ok(npm(app, ['install', beacon, acme]));
    expect(events()).toEqual(['acme-lib@2.3.4 postinstall']);
  });
});

describe('a FIFO or a link to /dev/zero named package.json above the project never blocks (item 9)', () => {
  for (const kind of ['a FIFO', 'a link to /dev/zero'] as const) {
    it.skipIf(process.platform === 'win32')(`${kind}: npm install ends, and sends; a program loading the package ends`, async () => {
      const shared = temps.make('ib-rp-trap-');
      const trap = join(shared, 'package.json');
      if (kind === 'a FIFO') {
        execFileSync('mkfifo', [trap]);
        fifos.push(trap);
      } else symlinkSync('/dev/zero', trap);
      const app = join(shared, 'proj');
      writeProject(app);
      const r = await run(...npmArgs(['install', beacon, acme]), { cwd: app, env: baseEnv(home, { npm_config_cache: join(home, 'npm-cache') }), timeoutMs: 60_000 });
      expect(r, 'npm install ends on its own').toMatchObject({ code: 0 });
      expect(events()).toEqual(['acme-lib@2.3.4 postinstall']);
      rmSync(join(app, 'node_modules', '.install-beacon'), { recursive: true });
      await programRun(app);
      expect(events()).toEqual(['acme-lib@2.3.4 postinstall', 'acme-lib@2.3.4 runtime']);
    });
  }
});

/** npm with local tarballs only (as npmLocal), for a run whose result the case inspects itself. */
function npmArgs(args: string[]): [string, string[]] {
  return ['npm', [...args, '--no-audit', '--no-fund', '--prefer-offline', '--fetch-retries=0', `--registry=${DEAD}`, '--loglevel=error']];
}

describe('npm workspaces in every glob form npm accepts: the root opt-out covers a member copy npm could not hoist (item 2)', () => {
  // The root asks for acme-lib 1.0.0, the member app for 2.3.4: npm leaves app's copy in
  // packages/app/node_modules, whose project is app; only the workspace root opts out.
  for (const form of ['packages/*', 'packages/{app,o}', 'packages/@(app|o)', 'packages/[ao]*']) {
    it(`"workspaces": [${JSON.stringify(form)}]`, async () => {
      const mono = temps.make('ib-rp-ws-');
      writeProject(mono, { workspaces: [form], dependencies: { 'acme-lib': `file:${acme1}`, 'install-beacon': `file:${beacon}` }, ...OFF });
      writeProject(join(mono, 'packages', 'app'), { name: 'app', dependencies: { 'acme-lib': `file:${acme}` } });
      writeProject(join(mono, 'packages', 'o'), { name: 'o' });
      await ok(npm(mono, ['install']));
      expect(JSON.parse(readFileSync(join(mono, 'packages/app/node_modules/acme-lib/package.json'), 'utf8')).version).toBe('2.3.4');
      expect(events()).toEqual([]);
      await programRun(join(mono, 'packages', 'app'));
      expect(events(), 'reportInstall agrees').toEqual([]);
    });
  }
});

describe.skipIf(!existsSync(PNPM))(`pnpm 10 workspaces: the root opt-out covers a member with its own node_modules (item 2)${needs(PNPM)}`, () => {
  const pnpm = (dir: string, args: string[]) =>
    run(process.execPath, [PNPM, ...args, `--registry=${DEAD}`, `--store-dir=${join(home, 'pnpm-store')}`], { cwd: dir, env: baseEnv(home), timeoutMs: 120_000 });
  /** A pnpm monorepo (pnpm's defaults, builds not approved, plus `npmrc`): app asks for 2.3.4, o for 1.0.0. */
  function monorepo(npmrc: string): string {
    const mono = join(temps.make('ib-rp-pnpm-'), 'mono');
    writeProject(mono, OFF);
    writeFileSync(join(mono, 'pnpm-workspace.yaml'), "packages:\n  - 'packages/*'\n");
    writeFileSync(join(mono, '.npmrc'), npmrc);
    writeProject(join(mono, 'packages', 'app'), { name: 'app', dependencies: { 'acme-lib': `file:${acme}` } });
    writeProject(join(mono, 'packages', 'o'), { name: 'o', dependencies: { 'acme-lib': `file:${acme1}` } });
    return mono;
  }

  it('shared-workspace-lockfile=false (each member its own .pnpm): require in a member sends nothing', async () => {
    const mono = monorepo('shared-workspace-lockfile=false\n');
    await ok(pnpm(mono, ['install']));
    expect(readdirSync(join(mono, 'packages/app/node_modules/.pnpm')).some((d) => d.startsWith('acme-lib@'))).toBe(true);
    await programRun(join(mono, 'packages', 'app'));
    await programRun(join(mono, 'packages', 'o'));
    expect(events()).toEqual([]);
  });

  it('node-linker=hoisted, a copy that cannot be hoisted stays in its member: require there sends nothing', async () => {
    const mono = monorepo('node-linker=hoisted\n');
    await ok(pnpm(mono, ['install']));
    const left = ['app', 'o'].filter((m) => existsSync(join(mono, 'packages', m, 'node_modules', 'acme-lib', 'package.json')));
    expect(left, 'one member keeps its own copy').toHaveLength(1);
    await programRun(join(mono, 'packages', left[0]!));
    expect(events()).toEqual([]);
  });

  it('control: the same monorepo without the opt-out sends from the member', async () => {
    const mono = monorepo('shared-workspace-lockfile=false\n');
    writeProject(mono);
    await ok(pnpm(mono, ['install']));
    await programRun(join(mono, 'packages', 'app'));
    expect(events()).toEqual(['acme-lib@2.3.4 runtime']);
  });
});


