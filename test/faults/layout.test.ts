import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startCollector, type Collector } from '../support/collector.js';
import { npmLocal, packAcme, packBeacon, REPORTING_MAIN, writeProject } from '../support/fixture.js';
import { baseEnv, run, TempDirs } from '../support/process.js';
import { sendersDone } from '../support/process.js';
import { AS_NOBODY, NOBODY_UID, setprivUnavailable, skipReason, unshareUnavailable, writeResults } from './harness.js';

// Where the marker lives, on the machines that move trees around: a read-only
// tree run by another user with a fresh HOME each time (a container image run
// as a non-root user), and an image layer mounted again (every overlayfs mount
// has a new st_dev). A real npm install of packed fixtures; acme-lib calls
// reportInstall(__filename) at the top of its main module.

const temps = new TempDirs();
let collector: Collector;
let beacon: string;
let acme: string;
let home: string;
const noSetpriv = setprivUnavailable();
const noOverlay = unshareUnavailable(['-m']);

beforeAll(async () => {
  collector = await startCollector();
  const tarballs = temps.make('ib-fl-tarballs-');
  home = temps.make('ib-fl-home-');
  beacon = packBeacon(tarballs);
  acme = packAcme(tarballs, {
    installBeacon: { url: `${collector.base}/{name}/{version}?trigger={trigger}`, delivery: 'inline' },
    main: REPORTING_MAIN,
  });
}, 120_000);
afterAll(async () => {
  await collector.close();
  temps.cleanup();
  writeResults('layout');
});
beforeEach(() => {
  collector.requests.length = 0;
});

/** npm install --ignore-scripts as root into a fresh project that other users can read. */
async function installed(): Promise<string> {
  const top = temps.make('ib-fl-app-');
  chmodSync(top, 0o755);
  const app = join(top, 'app');
  writeProject(app);
  const r = await npmLocal(app, ['install', '--ignore-scripts', beacon, acme], home);
  expect(r.code, r.stderr).toBe(0);
  return app;
}

const requireAcme = (cwd: string, env: Record<string, string>, wrap: string[] = []) =>
  run(wrap[0] ?? process.execPath, [...wrap.slice(1), ...(wrap.length ? [process.execPath] : []), '-e', "require('acme-lib')"], { cwd, env, timeoutMs: 30_000 });

describe('a tree that cannot hold a marker: a program start is never an install (issue 9, items 10 and 19)', () => {
  it.skipIf(skipReason('read-only tree, fresh HOME', noSetpriv))('installed by root, run 3 times as another user with a fresh HOME each: 0 events, nothing written in HOME', async () => {
    const app = await installed();
    for (let i = 0; i < 3; i++) {
      const fresh = mkdtempSync(join(tmpdir(), 'ib-fl-fresh-home-'));
      try {
        chownSync(fresh, NOBODY_UID, NOBODY_UID);
        const r = await requireAcme(app, baseEnv(fresh), AS_NOBODY);
        expect(r).toMatchObject({ code: 0, stdout: '', stderr: '' });
        await sendersDone(String(collector.port));
        expect(readdirSync(fresh), 'nothing written in HOME').toEqual([]);
      } finally {
        rmSync(fresh, { recursive: true, force: true });
      }
    }
    expect(collector.requests).toHaveLength(0);
    expect(existsSync(join(app, 'node_modules', '.install-beacon')), 'no marker could be written').toBe(false);
  });

  it('control: the same tree run by its owner reports once', async () => {
    const app = await installed();
    for (let i = 0; i < 3; i++) {
      expect(await requireAcme(app, baseEnv(home))).toMatchObject({ code: 0, stderr: '' });
      await sendersDone(String(collector.port));
    }
    expect(collector.requests.map((q) => q.query.trigger)).toEqual(['runtime']);
  });
});

describe('an image layer mounted again (issue 9, item 9)', () => {
  it.skipIf(skipReason('overlayfs remount', noOverlay))('reported in the lower layer, then started in two overlay mounts of it (new st_dev each): no more events', async () => {
    const app = await installed();
    // As in a docker build: the program ran (or the postinstall did) and left its marker in the layer.
    expect(await requireAcme(app, baseEnv(home))).toMatchObject({ code: 0, stderr: '' });
    await sendersDone(String(collector.port));
    expect(collector.requests).toHaveLength(1);

    const work = temps.make('ib-fl-overlay-');
    for (const d of ['u1', 'w1', 'm1', 'u2', 'w2', 'm2']) mkdirSync(join(work, d));
    const mount = (n: number) => `mount -t overlay overlay -o lowerdir=${app},upperdir=${work}/u${n},workdir=${work}/w${n} ${work}/m${n}`;
    const start = (n: number) => `cd ${work}/m${n} && stat -c %d node_modules/acme-lib/package.json && ${process.execPath} -e "require('acme-lib')"`;
    const r = await run('unshare', ['-m', 'sh', '-ec', [mount(1), mount(2), start(1), start(2), `stat -c %d ${app}/node_modules/acme-lib/package.json`].join('\n')], { env: baseEnv(home), timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    const devs = r.stdout.trim().split('\n');
    expect(new Set(devs).size, `three different devices: ${devs.join(' ')}`).toBe(3);
    await sendersDone(String(collector.port));
    expect(collector.requests).toHaveLength(1);
    // Nothing was written in either mount's upper layer: the marker was found, not claimed again.
    expect(readdirSync(join(work, 'u1'))).toEqual([]);
    expect(readdirSync(join(work, 'u2'))).toEqual([]);
    const [marker] = readdirSync(join(app, 'node_modules', '.install-beacon'));
    expect(JSON.parse(readFileSync(join(app, 'node_modules', '.install-beacon', marker!), 'utf8'))).toMatchObject({ trigger: 'runtime', status: 204 });
  });
});

// yarn 4 with its defaults keeps packages in a global cache (~/.yarn/berry/cache),
// whose paths name no project. The yarn CLI comes from the matrix's tool cache
// (npm run test:matrix installs it); without it this case is skipped and says so.
const MATRIX_CACHE = process.env.INSTALL_BEACON_MATRIX_CACHE || join(homedir(), '.cache', 'install-beacon-matrix');
const yarnDir = existsSync(MATRIX_CACHE) ? readdirSync(MATRIX_CACHE).find((d) => /^@yarnpkg\+cli-dist@4\.\d+\.\d+$/.test(d)) : undefined;
const YARN = yarnDir && join(MATRIX_CACHE, yarnDir, 'node_modules', '@yarnpkg', 'cli-dist', 'bin', 'yarn.js');
const noYarn = YARN && existsSync(YARN) ? undefined : `yarn 4 is not in ${MATRIX_CACHE} (npm run test:matrix installs it)`;

describe('yarn 4 with its defaults: the global cache (issue 9, item 11)', () => {
  function yarnProject(yarnHome: string, extra: Record<string, unknown> = {}): { app: string; env: Record<string, string> } {
    const app = join(temps.make('ib-fl-yarn-'), 'app');
    // Local tarballs only: no registry is needed (a dead loopback port in case yarn asks).
    writeProject(app, { dependencies: { 'acme-lib': `file:${acme}` }, resolutions: { 'install-beacon': `file:${beacon}` }, ...extra });
    writeFileSync(join(app, '.yarnrc.yml'), 'enableTelemetry: false\nnpmRegistryServer: "http://127.0.0.1:9"\n');
    writeFileSync(join(app, 'yarn.lock'), '');
    return { app, env: baseEnv(yarnHome, { YARN_ENABLE_TELEMETRY: '0' }) };
  }

  it.skipIf(skipReason('yarn 4 global cache', noYarn))('3 program starts: 1 event, the marker in the project (not the zip), the sender loads; a second project opted out and sharing the cache: 0', async () => {
    const yarnHome = temps.make('ib-fl-yarn-home-');
    const a = yarnProject(yarnHome);
    const inst = await run(process.execPath, [YARN!, 'install'], { cwd: a.app, env: a.env, timeoutMs: 120_000 });
    expect(inst.code, inst.stdout + inst.stderr).toBe(0);
    const cache = join(yarnHome, '.yarn', 'berry', 'cache');
    expect(readdirSync(cache).some((f) => f.startsWith('acme-lib-')), 'the package is in the global cache').toBe(true);
    expect(collector.requests, 'dependency scripts are blocked by default').toHaveLength(0);
    for (let i = 0; i < 3; i++) {
      expect(await run(process.execPath, ['-r', join(a.app, '.pnp.cjs'), '-e', "require('acme-lib')"], { cwd: a.app, env: a.env, timeoutMs: 30_000 })).toMatchObject({ code: 0, stderr: '' });
      await sendersDone(String(collector.port));
    }
    expect(collector.requests.map((q) => q.query.trigger)).toEqual(['runtime']);
    const markerDir = join(a.app, '.yarn', '.install-beacon');
    const [marker] = readdirSync(markerDir);
    expect(JSON.parse(readFileSync(join(markerDir, marker!), 'utf8'))).toMatchObject({ trigger: 'runtime', status: 204 });
    expect(readdirSync(cache).every((f) => f.endsWith('.zip')), 'nothing but zips in the cache').toBe(true);

    // Same cache (so the same zip path), another project, which opted out.
    const b = yarnProject(yarnHome, { installBeacon: { enabled: false } });
    expect((await run(process.execPath, [YARN!, 'install'], { cwd: b.app, env: b.env, timeoutMs: 120_000 })).code).toBe(0);
    expect(await run(process.execPath, ['-r', join(b.app, '.pnp.cjs'), '-e', "require('acme-lib')"], { cwd: b.app, env: b.env, timeoutMs: 30_000 })).toMatchObject({ code: 0, stderr: '' });
    await sendersDone(String(collector.port));
    expect(collector.requests).toHaveLength(1);
    expect(existsSync(join(b.app, '.yarn', '.install-beacon'))).toBe(false);
  });
});
