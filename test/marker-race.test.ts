import { readdirSync, readFileSync, utimesSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installSite } from '../src/layout.js';
import { markerLocation, RETRY_AFTER_MS } from '../src/marker.js';
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
