import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startCollector, type Collector } from '../support/collector.js';
import { npmLocal, packAcme, packBeacon, writeProject } from '../support/fixture.js';
import { baseEnv, run, TempDirs } from '../support/process.js';
import { sendersDone } from '../support/senders.js';
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
    main: "require('install-beacon').reportInstall(__filename);\nmodule.exports = 42;\n",
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
      chownSync(fresh, NOBODY_UID, NOBODY_UID);
      const r = await requireAcme(app, baseEnv(fresh), AS_NOBODY);
      expect(r).toMatchObject({ code: 0, stdout: '', stderr: '' });
      await sendersDone(String(collector.port));
      expect(readdirSync(fresh), 'nothing written in HOME').toEqual([]);
      rmSync(fresh, { recursive: true, force: true });
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
