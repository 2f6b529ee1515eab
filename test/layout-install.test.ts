import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startCollector, type Collector } from './support/collector.js';
import { npmLocal, packAcme, packBeacon, REPORTING_MAIN, writeProject } from './support/fixture.js';
import { baseEnv, BIN, run, TempDirs } from './support/process.js';
import { sendersDone } from './support/process.js';

// Where a package was installed decides which project's opt-out applies and
// where its marker goes (src/layout.ts). Real `npm install` runs of packed
// fixtures; inline delivery, so every event has arrived when npm returns.

const temps = new TempDirs();
let collector: Collector;
let failing: Collector;
let tarballs: string;
let beacon: string;
let acme: string;
let acmeFails: string;
let home: string;

const url = (base: string) => `${base}/{name}/{version}?trigger={trigger}`;

beforeAll(async () => {
  collector = await startCollector();
  failing = await startCollector((_req, res) => {
    res.writeHead(503);
    res.end();
  });
  tarballs = temps.make('ib-lay-tarballs-');
  home = temps.make('ib-lay-home-');
  beacon = packBeacon(tarballs);
  acme = packAcme(tarballs, { installBeacon: { url: url(collector.base), delivery: 'inline' }, main: REPORTING_MAIN });
  acmeFails = packAcme(tarballs, { name: 'acme-fails', installBeacon: { url: url(failing.base), delivery: 'inline' } });
}, 120_000);
afterAll(async () => {
  await collector.close();
  await failing.close();
  temps.cleanup();
});
beforeEach(() => {
  collector.requests.length = 0;
  failing.requests.length = 0;
});

const npm = (cwd: string, args: string[]) => npmLocal(cwd, args, home);
const OFF = { installBeacon: { enabled: false } };
const markerDir = (tree: string) => join(tree, 'node_modules', '.install-beacon');
const markers = (tree: string) => readdirSync(markerDir(tree)).filter((f) => f.endsWith('.json'));
const readMarker = (tree: string, file: string) => readFileSync(join(markerDir(tree), file), 'utf8');

async function ok(p: Promise<{ code: number | null; stderr: string }>): Promise<void> {
  const r = await p;
  expect(r.code, r.stderr).toBe(0);
}

/** A program run in `cwd` that loads acme-lib (which calls reportInstall); waits for any sender it started. */
async function programRun(cwd: string): Promise<void> {
  const r = await run(process.execPath, ['-e', "require('acme-lib')"], { cwd, env: baseEnv(home), timeoutMs: 30_000 });
  expect(r).toMatchObject({ code: 0, stderr: '' });
  await sendersDone(String(collector.port));
}

/** explain --json in `cwd`: what it says about acme-lib. */
async function explained(cwd: string): Promise<{ send: boolean; rule: string } | undefined> {
  const r = await run(process.execPath, [BIN, 'explain', '--json'], { cwd, env: baseEnv(home), timeoutMs: 30_000 });
  expect(r.code, r.stderr).toBe(0);
  const out = JSON.parse(r.stdout) as { packages: { name: string; send: boolean; rule: string }[] };
  return out.packages.find((p) => p.name === 'acme-lib');
}

describe('the project opt-out follows where npm installs, not where npm was started (issue 9, item 2)', () => {
  it('npm install started in a subfolder of an opted-out project: no event; explain there agrees', async () => {
    const proj = join(temps.make('ib-lay-sub-'), 'proj');
    writeProject(proj, OFF);
    mkdirSync(join(proj, 'src'));
    await ok(npm(join(proj, 'src'), ['install', beacon, acme]));
    expect(readdirSync(join(proj, 'node_modules'))).toContain('acme-lib'); // npm installed into the project, not src/
    expect(collector.requests).toHaveLength(0);
    expect(await explained(join(proj, 'src'))).toMatchObject({ send: false, rule: 'project-opt-out' });
    await programRun(join(proj, 'src'));
    expect(collector.requests, 'reportInstall agrees').toHaveLength(0);
  });

  it('npm install --prefix <opted-out project> from elsewhere: no event', async () => {
    const proj = join(temps.make('ib-lay-prefix-'), 'proj');
    writeProject(proj, OFF);
    const elsewhere = temps.make('ib-lay-elsewhere-');
    writeProject(elsewhere);
    await ok(npm(elsewhere, ['install', '--prefix', proj, beacon, acme]));
    expect(readdirSync(join(proj, 'node_modules'))).toContain('acme-lib');
    expect(collector.requests).toHaveLength(0);
  });

  it("npm install in a workspace member: the monorepo root's opt-out holds; explain in the member agrees", async () => {
    const mono = join(temps.make('ib-lay-ws-'), 'mono');
    writeProject(mono, { workspaces: ['packages/*'], ...OFF });
    writeProject(join(mono, 'packages', 'app'), { name: 'app' });
    await ok(npm(join(mono, 'packages', 'app'), ['install', beacon, acme]));
    expect(collector.requests).toHaveLength(0);
    expect(await explained(join(mono, 'packages', 'app'))).toMatchObject({ send: false, rule: 'project-opt-out' });
    await programRun(join(mono, 'packages', 'app'));
    expect(collector.requests, 'reportInstall agrees').toHaveLength(0);
  });

  it('control: the same install into a project without an opt-out sends one event, started from a subfolder', async () => {
    const proj = join(temps.make('ib-lay-ctl-'), 'proj');
    writeProject(proj);
    mkdirSync(join(proj, 'src'));
    await ok(npm(join(proj, 'src'), ['install', beacon, acme]));
    expect(collector.requests.map((q) => q.query.trigger)).toEqual(['postinstall']);
    expect(await explained(join(proj, 'src'))).toMatchObject({ rule: 'already-reported' });
  });
});

describe('the marker records the outcome (issue 9, item 20)', () => {
  it('a delivered event: the marker holds trigger, status and the package path', async () => {
    const app = temps.make('ib-lay-content-');
    writeProject(app);
    await ok(npm(app, ['install', beacon, acme]));
    expect(collector.requests).toHaveLength(1);
    const [file] = markers(app);
    expect(JSON.parse(readMarker(app, file!))).toMatchObject({ trigger: 'postinstall', status: 204, path: 'node_modules/acme-lib' });
  });

  it('a failed send (503): the claim stays empty, to be retried later', async () => {
    const app = temps.make('ib-lay-fail-');
    writeProject(app);
    await ok(npm(app, ['install', beacon, acmeFails]));
    expect(failing.requests).toHaveLength(1);
    const files = markers(app);
    expect(files).toHaveLength(1);
    expect(readMarker(app, files[0]!)).toBe('');
  });

  it('a runtime event: the sender records trigger=runtime and the status', async () => {
    const app = temps.make('ib-lay-rt-');
    writeProject(app);
    await ok(npm(app, ['install', '--ignore-scripts', beacon, acme]));
    const r = await run(process.execPath, ['-e', "require('acme-lib')"], { cwd: app, env: baseEnv(home), timeoutMs: 30_000 });
    expect(r).toMatchObject({ code: 0, stderr: '' });
    await sendersDone(String(collector.port));
    expect(collector.requests.map((q) => q.query.trigger)).toEqual(['runtime']);
    const [file] = markers(app);
    expect(JSON.parse(readMarker(app, file!))).toMatchObject({ trigger: 'runtime', status: 204 });
  });
});

describe('one event per package version per installed tree (issue 9, items 9 and 13)', () => {
  it('2.3.5 at the top and 2.3.4 nested under two parents: two events, one per version', async () => {
    const acme234 = packAcme(tarballs, { version: '2.3.4', installBeacon: { url: url(collector.base), delivery: 'inline' } });
    const acme235 = packAcme(tarballs, { version: '2.3.5', installBeacon: { url: url(collector.base), delivery: 'inline' } });
    const mid = (name: string) => packAcme(tarballs, { name, version: '1.0.0', postinstall: 'node -e 0', extra: { dependencies: { 'acme-lib': `file:${acme234}`, 'install-beacon': `file:${beacon}` } } });
    const app = temps.make('ib-lay-nested-');
    writeProject(app);
    await ok(npm(app, ['install', beacon, acme235, mid('mid-a'), mid('mid-b')]));
    // The layout this case is about: two nested copies of 2.3.4.
    for (const parent of ['mid-a', 'mid-b']) expect(JSON.parse(readFileSync(join(app, 'node_modules', parent, 'node_modules', 'acme-lib', 'package.json'), 'utf8')).version).toBe('2.3.4');
    expect(collector.requests.map((q) => q.segments.join('@')).sort()).toEqual(['acme-lib@2.3.4', 'acme-lib@2.3.5']);
  });

  it('a second nested copy of an already reported version, added to the tree by a later install: no new event', async () => {
    const acme234 = packAcme(tarballs, { version: '2.3.4', installBeacon: { url: url(collector.base), delivery: 'inline' } });
    const acme235 = packAcme(tarballs, { version: '2.3.5', installBeacon: { url: url(collector.base), delivery: 'inline' } });
    const mid = (name: string) => packAcme(tarballs, { name, version: '1.0.0', postinstall: 'node -e 0', extra: { dependencies: { 'acme-lib': `file:${acme234}`, 'install-beacon': `file:${beacon}` } } });
    const app = temps.make('ib-lay-nested-later-');
    writeProject(app);
    await ok(npm(app, ['install', beacon, acme235, mid('mid-a')]));
    expect(collector.requests.map((q) => q.segments.join('@')).sort()).toEqual(['acme-lib@2.3.4', 'acme-lib@2.3.5']);
    await ok(npm(app, ['install', mid('mid-b')]));
    expect(JSON.parse(readFileSync(join(app, 'node_modules', 'mid-b', 'node_modules', 'acme-lib', 'package.json'), 'utf8')).version).toBe('2.3.4');
    expect(collector.requests).toHaveLength(2);
  });

  it('the parent whose nested copy the marker recorded is uninstalled, another package reports (and prunes): the marker stays for the other nested copy, npm rebuild sends nothing (issue 19 item 8)', async () => {
    const acme234 = packAcme(tarballs, { version: '2.3.4', installBeacon: { url: url(collector.base), delivery: 'inline' } });
    const acme235 = packAcme(tarballs, { version: '2.3.5', installBeacon: { url: url(collector.base), delivery: 'inline' } });
    const mid = (name: string) => packAcme(tarballs, { name, version: '1.0.0', postinstall: 'node -e 0', extra: { dependencies: { 'acme-lib': `file:${acme234}`, 'install-beacon': `file:${beacon}` } } });
    const other = packAcme(tarballs, { name: 'other-lib', version: '1.0.0', installBeacon: { url: url(collector.base), delivery: 'inline' }, extra: { dependencies: { 'install-beacon': `file:${beacon}` } } });
    const app = temps.make('ib-lay-prune-');
    writeProject(app);
    await ok(npm(app, ['install', beacon, acme235, mid('mid-a'), mid('mid-b')]));
    expect(collector.requests.map((q) => q.segments.join('@')).sort()).toEqual(['acme-lib@2.3.4', 'acme-lib@2.3.5']);
    const file234 = markers(app).find((f) => f.startsWith('acme-lib@2.3.4'))!;
    const recorded = (JSON.parse(readMarker(app, file234)) as { path: string }).path;
    const parent = recorded.split('/')[1]!;
    expect(['mid-a', 'mid-b']).toContain(parent);
    await ok(npm(app, ['uninstall', parent]));
    await ok(npm(app, ['install', other]));
    expect(collector.requests.map((q) => q.segments.join('@')).sort()).toEqual(['acme-lib@2.3.4', 'acme-lib@2.3.5', 'other-lib@1.0.0']);
    // The copy left under the other parent still needs the marker; it was not pruned.
    expect(markers(app)).toContain(file234);
    await ok(npm(app, ['rebuild']));
    expect(collector.requests.map((q) => q.segments.join('@')).sort()).toEqual(['acme-lib@2.3.4', 'acme-lib@2.3.5', 'other-lib@1.0.0']);
  });

  it('uninstall then install the same version again is a new install (one more event); npm rebuild is not', async () => {
    const app = temps.make('ib-lay-reinstall-');
    writeProject(app);
    await ok(npm(app, ['install', beacon, acme]));
    expect(collector.requests).toHaveLength(1);
    await ok(npm(app, ['rebuild']));
    expect(collector.requests).toHaveLength(1);
    await ok(npm(app, ['uninstall', 'acme-lib']));
    await ok(npm(app, ['install', acme]));
    expect(collector.requests).toHaveLength(2);
    await ok(npm(app, ['rebuild']));
    expect(collector.requests).toHaveLength(2);
    expect(markers(app)).toHaveLength(1);
  });

  it('a tree moved to another folder (cp -a keeps mtimes) stays reported: the marker name holds no path', async () => {
    const app = join(temps.make('ib-lay-move-'), 'a');
    writeProject(app);
    await ok(npm(app, ['install', beacon, acme]));
    expect(collector.requests).toHaveLength(1);
    const moved = join(temps.make('ib-lay-moved-'), 'b');
    await ok(run('cp', ['-a', app, moved]));
    const r = await run(process.execPath, ['-e', "require('acme-lib')"], { cwd: moved, env: baseEnv(home), timeoutMs: 30_000 });
    expect(r).toMatchObject({ code: 0, stderr: '' });
    await sendersDone(String(collector.port));
    await ok(npm(moved, ['rebuild']));
    expect(collector.requests).toHaveLength(1);
  });
});

describe('markers of packages that are gone are pruned (issue 9, item 18)', () => {
  it('npm uninstall -g leaves a marker; the next global install that sends removes it', async () => {
    const prefix = temps.make('ib-lay-global-');
    // A global package gets its own copy of its dependencies: install-beacon from the local tarball.
    const globalPkg = (name: string) => packAcme(tarballs, { name, installBeacon: { url: url(collector.base), delivery: 'inline' }, extra: { dependencies: { 'install-beacon': `file:${beacon}` } } });
    const other = globalPkg('other-lib');
    await ok(npm(prefix, ['install', '-g', '--prefix', prefix, globalPkg('acme-lib')]));
    const tree = join(prefix, 'lib');
    expect(markers(tree)).toEqual([expect.stringMatching(/^acme-lib@2\.3\.4-/)]);
    await ok(npm(prefix, ['uninstall', '-g', '--prefix', prefix, 'acme-lib']));
    expect(markers(tree)).toHaveLength(1); // npm leaves it behind
    await ok(npm(prefix, ['install', '-g', '--prefix', prefix, other]));
    expect(collector.requests.map((q) => q.segments[0])).toEqual(['acme-lib', 'other-lib']);
    expect(markers(tree)).toEqual([expect.stringMatching(/^other-lib@2\.3\.4-/)]);
  });
});
