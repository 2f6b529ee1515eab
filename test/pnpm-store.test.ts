import { existsSync, readdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startCollector, type Collector } from './support/collector.js';
import { packAcme, packBeacon, REPORTING_MAIN } from './support/fixture.js';
import { baseEnv, run, type RunResult, sendersDone, TempDirs } from './support/process.js';

// Packages outside the project's node_modules (issue 19 items 3 and 4), with
// the real managers the matrix caches (~/.cache/install-beacon-matrix; without
// them these cases are skipped and say so):
// - pnpm's global virtual store (`enableGlobalVirtualStore: true`): the package
//   lives in <store>/links/@/acme-lib/2.3.4/<hash>/node_modules/acme-lib, shared
//   by every project on the machine. Each project counts once, its marker in its
//   own node_modules/.install-beacon, and its opt-out holds.
// - pnpm 10's `virtual-store-dir=.pnpm-store-dir` (outside node_modules): the opt-out holds.
// - yarn 4's `nodeLinker: pnpm` (node_modules/.store/<x>/package): reportInstall counts.
// Packages come from local tarballs (file: specs); the registry is a dead loopback port.

const CACHE = process.env.INSTALL_BEACON_MATRIX_CACHE || join(homedir(), '.cache', 'install-beacon-matrix');
const PNPM = join(CACHE, 'pnpm@12.26.0', 'node_modules', 'pnpm', 'bin', 'pnpm.mjs');
const PNPM10 = join(CACHE, 'pnpm@10.34.9', 'node_modules', 'pnpm', 'bin', 'pnpm.cjs');
const YARN = join(CACHE, '@yarnpkg+cli-dist@4.18.1', 'node_modules', '@yarnpkg', 'cli-dist', 'bin', 'yarn.js');
const DEAD = 'http://127.0.0.1:9/';

const temps = new TempDirs();
let collector: Collector;
let acme: string;

beforeAll(async () => {
  if (![PNPM, PNPM10, YARN].some((tool) => existsSync(tool))) return;
  collector = await startCollector();
  const tarballs = temps.make('ib-store-tarballs-');
  acme = packAcme(tarballs, {
    installBeacon: { url: `${collector.base}/{name}/{version}?trigger={trigger}&direct={direct}`, delivery: 'inline' },
    extra: { dependencies: { 'install-beacon': `file:${packBeacon(tarballs)}` } },
    main: REPORTING_MAIN,
  });
}, 120_000);
afterAll(async () => {
  await collector?.close();
  temps.cleanup();
});
beforeEach(() => {
  if (collector) collector.requests.length = 0;
});

function ok(r: RunResult): void {
  expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
}

/** The events since the last step, once every background sender has exited (bounded, by PID). */
async function step(): Promise<string[]> {
  await sendersDone(String(collector.port));
  const seen = collector.requests.map((q) => `${q.segments.join('@')} ${q.query.trigger} direct=${q.query.direct}`);
  collector.requests.length = 0;
  return seen;
}

/** The program the end user runs, in the project. */
async function program(dir: string, home: string): Promise<string[]> {
  const r = await run(process.execPath, ['-e', "require('acme-lib')"], { cwd: dir, env: baseEnv(home), timeoutMs: 60_000 });
  ok(r);
  expect(r.stderr).toBe('');
  return step();
}

/** The marker files install-beacon wrote under `dir` (any depth; symlinks, such as the store's links to its projects, not followed). */
function markersUnder(dir: string, rel = ''): string[] {
  return readdirSync(join(dir, rel), { withFileTypes: true }).flatMap((e) => {
    const path = join(rel, e.name);
    if (e.isDirectory()) return markersUnder(dir, path);
    return e.isFile() && /(^|[\\/])\.install-beacon[\\/][^\\/]+\.json$/.test(path) ? [path] : [];
  });
}
const markerOf = (project: string) => JSON.parse(readFileSync(join(project, 'node_modules', '.install-beacon', readdirSync(join(project, 'node_modules', '.install-beacon'))[0]!), 'utf8')) as { trigger: string };

describe.skipIf(!existsSync(PNPM))('pnpm latest, enableGlobalVirtualStore: true (one store for every project)', () => {
  // One HOME, so one store and one global virtual store for every project, as on a developer's machine.
  let home: string;
  const pnpm = (dir: string, args: string[]) => run(process.execPath, [PNPM, ...args, `--registry=${DEAD}`, '--reporter=append-only'], { cwd: dir, env: baseEnv(home), timeoutMs: 120_000 });
  // The build allowed as the README tells pnpm users (a file: package is also named with its spec).
  const settings = (dir: string) => `enableGlobalVirtualStore: true\nallowBuilds:\n  acme-lib: true\n  "acme-lib@file:${relative(dir, acme)}": true\n`;
  const project = (prefix: string, pkg: Record<string, unknown> = {}) => {
    const p = temps.project(prefix, pkg);
    writeFileSync(join(p.dir, 'pnpm-workspace.yaml'), settings(p.dir));
    return p.dir;
  };
  beforeAll(() => {
    if (collector) home = temps.make('ib-store-home-');
  });

  it('two projects on one machine: one event each, each marker in its own project; an opted-out third project: none', async () => {
    const seen: string[][] = [];
    const dirs = [project('ib-store-a-'), project('ib-store-b-'), project('ib-store-c-', { installBeacon: { enabled: false } })];
    for (const dir of dirs) {
      ok(await pnpm(dir, ['add', acme]));
      seen.push(await step());
      seen.push(await program(dir, home));
    }
    expect(seen).toEqual([['acme-lib@2.3.4 postinstall direct=true'], [], ['acme-lib@2.3.4 postinstall direct=true'], [], [], []]);
    // The package is the store's, shared: the marker is the project's.
    expect(realpathOfAcme(dirs[0]!)).toBe(realpathOfAcme(dirs[1]!));
    expect(realpathOfAcme(dirs[0]!)).toContain(`${join(home, '.local', 'share', 'pnpm', 'store')}`);
    expect(markersUnder(join(home, '.local'))).toEqual([]);
    for (const dir of dirs.slice(0, 2)) expect(markerOf(dir)).toMatchObject({ trigger: 'postinstall' });
    expect(existsSync(join(dirs[2]!, 'node_modules', '.install-beacon'))).toBe(false);
  });

  it('scripts ignored: reportInstall counts the install once, for the project that runs it', async () => {
    const dir = project('ib-store-r-');
    ok(await pnpm(dir, ['add', acme, '--ignore-scripts']));
    expect(await step()).toEqual([]);
    expect(await program(dir, home)).toEqual(['acme-lib@2.3.4 runtime direct=true']);
    expect(await program(dir, home)).toEqual([]);
    expect(markerOf(dir)).toMatchObject({ trigger: 'runtime' });
    expect(markersUnder(join(home, '.local'))).toEqual([]);
  });
});

const realpathOfAcme = (dir: string) => realpathSync(join(dir, 'node_modules', 'acme-lib'));

describe.skipIf(!existsSync(PNPM10))('pnpm 10, virtual-store-dir=.pnpm-store-dir (outside node_modules)', () => {
  const pnpm = (dir: string, home: string, args: string[]) =>
    run(process.execPath, [PNPM10, ...args, `--registry=${DEAD}`, `--store-dir=${join(home, 'store')}`, '--reporter=append-only'], { cwd: dir, env: baseEnv(home), timeoutMs: 120_000 });
  const files = (dir: string) => ({ '.npmrc': 'virtual-store-dir=.pnpm-store-dir\n', 'pnpm-workspace.yaml': `onlyBuiltDependencies:\n  - acme-lib\n  - "acme-lib@file:${relative(dir, acme)}"\n` });

  it.each([
    ['the project', {}, [['acme-lib@2.3.4 postinstall direct=true'], []]],
    ['an opted-out project', { installBeacon: { enabled: false } }, [[], []]],
  ] as const)('%s: install, then the program', async (_, pkg, want) => {
    const p = temps.project('ib-store-v-', pkg);
    for (const [name, text] of Object.entries(files(p.dir))) writeFileSync(join(p.dir, name), text);
    ok(await pnpm(p.dir, p.home, ['add', acme]));
    const seen = [await step(), await program(p.dir, p.home)];
    expect(realpathOfAcme(p.dir)).toContain(join(p.dir, '.pnpm-store-dir'));
    expect(seen).toEqual(want);
    // The marker (where one is written) is the project's, not the virtual store's.
    expect(markersUnder(p.dir).map((f) => f.replace(/[^\\/]+$/, ''))).toEqual(want[0]!.length ? [`${join('node_modules', '.install-beacon')}/`] : []);
  });
});

describe.skipIf(!existsSync(YARN))('yarn 4, nodeLinker: pnpm (node_modules/.store)', () => {
  const yarnrc = `nodeLinker: pnpm\nnpmRegistryServer: "${DEAD.replace(/\/$/, '')}"\nenableTelemetry: false\n`;
  const yarn = (dir: string, home: string, args: string[]) => run(process.execPath, [YARN, ...args], { cwd: dir, env: baseEnv(home), timeoutMs: 120_000 });

  it('builds skipped: reportInstall counts the install once', async () => {
    const p = temps.project('ib-store-y-', { dependencies: { 'acme-lib': `file:${acme}` } }, { '.yarnrc.yml': yarnrc, 'yarn.lock': '' });
    ok(await yarn(p.dir, p.home, ['install', '--mode=skip-build']));
    expect(await step()).toEqual([]);
    expect(realpathOfAcme(p.dir)).toMatch(/[\\/]node_modules[\\/]\.store[\\/][^\\/]+[\\/]package$/);
    expect(await program(p.dir, p.home)).toEqual(['acme-lib@2.3.4 runtime direct=true']);
    expect(await program(p.dir, p.home)).toEqual([]);
    expect(markerOf(p.dir)).toMatchObject({ trigger: 'runtime' });
  });
});
