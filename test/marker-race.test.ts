import { readdirSync, readFileSync, statSync, utimesSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installSite } from '../src/layout.js';
import { LOCK_EXPIRES_MS, markerLocation, RETRY_AFTER_MS } from '../src/marker.js';
import { runtimeOf } from '../src/runtime.js';
import { startCollector, type Collector } from './support/collector.js';
import { npmLocal, packAcme, packBeacon, REPORTING_MAIN, writeProject } from './support/fixture.js';
import { baseEnv, run, TempDirs } from './support/process.js';
import { sendersDone } from './support/process.js';

const temps = new TempDirs();
let collector: Collector;
let beacon: string;
let acme: string;
let home: string;

beforeAll(async () => {
  collector = await startCollector();
  const tarballs = temps.make('ib-race-tarballs-');
  home = temps.make('ib-race-home-');
  beacon = packBeacon(tarballs);
  acme = packAcme(tarballs, {
    installBeacon: { url: `${collector.base}/{name}/{version}?trigger={trigger}`, delivery: 'inline' },
    main: REPORTING_MAIN,
  });
}, 120_000);
afterAll(async () => {
  await collector.close();
  temps.cleanup();
});

describe('a stale claim taken over by many processes at once (issue 9, item 12)', () => {
  it('8 processes start together on an install whose first send failed long ago: exactly one event, recorded', async () => {
    const app = temps.make('ib-race-app-');
    writeProject(app);
    const r = await npmLocal(app, ['install', '--ignore-scripts', beacon, acme], home);
    expect(r.code, r.stderr).toBe(0);
    // The claim a sender that died left behind: empty, older than RETRY_AFTER_MS.
    const site = installSite(join(app, 'node_modules', 'acme-lib'))!;
    const marker = markerLocation(site, 'acme-lib', '2.3.4');
    mkdirSync(marker.dir, { recursive: true });
    writeFileSync(marker.file, '');
    const past = (Date.now() - RETRY_AFTER_MS - 60_000) / 1000;
    utimesSync(marker.file, past, past);
    // ... and the package.json older still (the install happened before that claim).
    utimesSync(join(app, 'node_modules', 'acme-lib', 'package.json'), past - 60, past - 60);

    const runs = await Promise.all(Array.from({ length: 8 }, () => run(process.execPath, ['-e', "require('acme-lib')"], { cwd: app, env: baseEnv(home), timeoutMs: 30_000 })));
    for (const one of runs) expect(one).toMatchObject({ code: 0, stderr: '' });
    await sendersDone(String(collector.port));
    expect(collector.requests.map((q) => q.query.trigger)).toEqual(['runtime']);
    expect(JSON.parse(readFileSync(marker.file, 'utf8'))).toMatchObject({ trigger: 'runtime', status: 204 });
    expect(readdirSync(marker.dir), 'no takeover lock left behind').toEqual([marker.file.split('/').pop()]);
  });
});

describe('a reinstall taken over by many processes at once (issue 19, item 7)', () => {
  // npm uninstall + npm install of the same version leaves the reported marker
  // and a newer package.json: the marker is outdated, and eight programs that
  // start together all want to take it over. Exactly one may. Round 1 is a
  // real npm reinstall; the rounds after it give package.json the newer mtime
  // npm's extraction gives it (the same state, without npm's seconds).
  it('8 simultaneous requires after each reinstall: exactly one event per round, 12 rounds', async () => {
    const app = temps.make('ib-race7-app-');
    writeProject(app);
    expect((await npmLocal(app, ['install', '--ignore-scripts', beacon, acme], home)).code).toBe(0);
    const env = baseEnv(home);
    const requireAll = () => Promise.all(Array.from({ length: 8 }, () => run(process.execPath, ['-e', "require('acme-lib')"], { cwd: app, env, timeoutMs: 30_000 })));
    collector.requests.length = 0;
    for (const one of await requireAll()) expect(one).toMatchObject({ code: 0, stderr: '' });
    await sendersDone(String(collector.port));
    expect(collector.requests).toHaveLength(1);
    const site = installSite(join(app, 'node_modules', 'acme-lib'))!;
    const marker = markerLocation(site, 'acme-lib', '2.3.4');
    const perRound: number[] = [];
    for (let round = 1; round <= 12; round++) {
      if (round === 1) {
        expect((await npmLocal(app, ['uninstall', 'acme-lib'], home)).code).toBe(0);
        expect((await npmLocal(app, ['install', '--ignore-scripts', acme], home)).code).toBe(0);
      } else {
        // Newer than the marker, and in the past (as npm's extraction, done before the programs start).
        const later = (statSync(marker.file).mtimeMs + 1) / 1000;
        utimesSync(join(app, 'node_modules', 'acme-lib', 'package.json'), later, later);
      }
      const before = collector.requests.length;
      for (const one of await requireAll()) expect(one).toMatchObject({ code: 0, stderr: '' });
      await sendersDone(String(collector.port));
      perRound.push(collector.requests.length - before);
    }
    expect(perRound).toEqual(Array(12).fill(1));
    expect(JSON.parse(readFileSync(marker.file, 'utf8'))).toMatchObject({ trigger: 'runtime', status: 204 });
    expect(readdirSync(marker.dir), 'no takeover lock left behind').toEqual([marker.file.split('/').pop()]);
  }, 300_000);
});

describe('a process killed holding the takeover lock (issue 19, item 7)', () => {
  it('kill -9 right after the lock is created: the marker is not blocked for good; once the lock has expired, 8 racing programs report once and clear it', async () => {
    const app = temps.make('ib-race7k-app-');
    writeProject(app);
    expect((await npmLocal(app, ['install', '--ignore-scripts', beacon, acme], home)).code).toBe(0);
    const env = baseEnv(home);
    const use = (args: string[] = []) => run(process.execPath, [...args, '-e', "require('acme-lib')"], { cwd: app, env, timeoutMs: 30_000 });
    collector.requests.length = 0;
    expect(await use()).toMatchObject({ code: 0, stderr: '' });
    await sendersDone(String(collector.port));
    expect(collector.requests).toHaveLength(1);
    const marker = markerLocation(installSite(join(app, 'node_modules', 'acme-lib'))!, 'acme-lib', '2.3.4');
    // A reinstall (package.json newer than the marker), then a program that dies by SIGKILL the moment it holds the lock.
    const later = (statSync(marker.file).mtimeMs + 1) / 1000;
    utimesSync(join(app, 'node_modules', 'acme-lib', 'package.json'), later, later);
    const killer = join(temps.make('ib-race7k-preload-'), 'kill.cjs');
    writeFileSync(killer, "const fs = require('fs'); const open = fs.openSync; fs.openSync = function (p, flags) { const fd = open.apply(this, arguments); if (String(p).endsWith('.takeover') && flags === 'wx') process.kill(process.pid, 'SIGKILL'); return fd; };\n");
    expect(await use(['--require', killer])).toMatchObject({ signal: 'SIGKILL' });
    const lock = readdirSync(marker.dir).filter((n) => n.endsWith('.takeover'));
    expect(lock).toHaveLength(1);
    // While the lock is fresh its holder may be at work: nobody else takes over.
    expect(await use()).toMatchObject({ code: 0, stderr: '' });
    await sendersDone(String(collector.port));
    expect(collector.requests).toHaveLength(1);
    // A minute later (the lock's clock turned back by LOCK_EXPIRES_MS): exactly one of 8 takes over.
    const past = (Date.now() - LOCK_EXPIRES_MS) / 1000;
    utimesSync(join(marker.dir, lock[0]!), past, past);
    const runs = await Promise.all(Array.from({ length: 8 }, () => use()));
    for (const one of runs) expect(one).toMatchObject({ code: 0, stderr: '' });
    await sendersDone(String(collector.port));
    expect(collector.requests).toHaveLength(2);
    expect(JSON.parse(readFileSync(marker.file, 'utf8'))).toMatchObject({ trigger: 'runtime', status: 204 });
    expect(readdirSync(marker.dir), 'the dead lock removed').toEqual([marker.file.split('/').pop()]);
  }, 120_000);
});

describe('where reportInstall runs at all', () => {
  it('a real process that looks like Electron: no sender started, no marker, no event; the same tree under Node reports', async () => {
    const app = temps.make('ib-electron-app-');
    writeProject(app);
    expect((await npmLocal(app, ['install', '--ignore-scripts', beacon, acme], home)).code).toBe(0);
    collector.requests.length = 0;
    const electron = "Object.defineProperty(process.versions, 'electron', { value: '33.2.0', enumerable: true }); require('acme-lib')";
    expect(await run(process.execPath, ['-e', electron], { cwd: app, env: baseEnv(home), timeoutMs: 30_000 })).toMatchObject({ code: 0, stderr: '' });
    await sendersDone(String(collector.port));
    expect(collector.requests).toHaveLength(0);
    expect(readdirSync(join(app, 'node_modules')), 'no marker folder').not.toContain('.install-beacon');
    expect(await run(process.execPath, ['-e', "require('acme-lib')"], { cwd: app, env: baseEnv(home), timeoutMs: 30_000 })).toMatchObject({ code: 0, stderr: '' });
    await sendersDone(String(collector.port));
    expect(collector.requests).toHaveLength(1);
  });

  it.each([
    ['Node', { node: '20.20.2' }, false, 'node'],
    ['Electron (process.execPath is the app: never start it)', { node: '20.18.0', electron: '33.2.0' }, false, undefined],
    ['Bun', { node: '22.6.0', bun: '1.4.5' }, false, 'bun'],
    ['Deno (the global)', { node: '20.11.1' }, true, 'deno'],
    ['an edge runtime (process without versions.node)', {}, false, undefined],
    ['a browser (no process.versions)', undefined, false, undefined],
  ] as const)('%s → %s', (_n, versions, deno, expected) => {
    expect(runtimeOf(versions as Record<string, string> | undefined, deno)).toBe(expected);
  });
});
