import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startCollector, type Collector } from './support/collector.js';
import { npmArgv, npmLocal, packAcme, packBeacon, writeProject } from './support/fixture.js';
import { TempDirs } from './support/process.js';

// Real `npm install` of packed fixtures: install-beacon as npm pack makes it, and
// acme-lib wired the way the README tells authors to.

const temps = new TempDirs();
let collector: Collector;
let tarballs: string;
let beacon: string;
let acme: string;
let home: string;
const npmVersion = execFileSync(...npmArgv(['--version']), { encoding: 'utf8' }).trim();

beforeAll(async () => {
  collector = await startCollector();
  tarballs = temps.make('ib-tarballs-');
  home = temps.make('ib-home-');
  beacon = packBeacon(tarballs);
  acme = packAcme(tarballs, {
    installBeacon: { url: `${collector.base}/{name}/{version}/{platform}/{arch}?pm={pm}&pm_version={pm_version}&install={install}&trigger={trigger}`, delivery: 'inline' },
  });
}, 120_000);
afterAll(async () => {
  await collector.close();
  temps.cleanup();
});
beforeEach(() => {
  collector.requests.length = 0;
});

const npm = (cwd: string, args: string[], extra: Record<string, string | undefined> = {}) => npmLocal(cwd, args, home, extra);

function project(pkg: Record<string, unknown> = {}): string {
  const dir = join(temps.make('ib-app-'), 'app');
  writeProject(dir, pkg);
  return dir;
}

describe('npm install of a package that uses install-beacon', () => {
  it('sends exactly one event with the install facts; rebuild and a second install send none; npm ci sends again', async () => {
    const app = project();
    const first = await npm(app, ['install', beacon, acme]);
    expect(first.code).toBe(0);
    await collector.waitFor(1, 5000);
    expect(collector.requests).toHaveLength(1);
    expect(collector.requests[0]).toMatchObject({
      segments: ['acme-lib', '2.3.4', process.platform, process.arch],
      query: { pm: 'npm', pm_version: npmVersion, install: 'local', trigger: 'postinstall' },
    });

    expect((await npm(app, ['rebuild'])).code).toBe(0);
    expect((await npm(app, ['install'])).code).toBe(0);
    expect(collector.requests).toHaveLength(1);

    expect((await npm(app, ['ci'])).code).toBe(0);
    await collector.waitFor(2, 5000);
    expect(collector.requests).toHaveLength(2);
    expect((await npm(app, ['ci'])).code).toBe(0);
    await collector.waitFor(3, 5000);
    expect(collector.requests).toHaveLength(3);
  });

  it('DO_NOT_TRACK=1: the install succeeds and nothing connects to the collector', async () => {
    const app = project();
    const before = collector.connections;
    const r = await npm(app, ['install', beacon, acme], { DO_NOT_TRACK: '1' });
    expect(r.code).toBe(0);
    expect(existsSync(join(app, 'node_modules', 'acme-lib', 'package.json'))).toBe(true);
    await collector.settled();
    expect(collector.connections).toBe(before);
  });

  it('a project that opted out in its package.json sends nothing', async () => {
    const app = project({ installBeacon: { enabled: false } });
    expect((await npm(app, ['install', beacon, acme])).code).toBe(0);
    await collector.settled();
    expect(collector.requests).toHaveLength(0);
  });

  it('two packages using install-beacon in one tree: one event each', async () => {
    const beta = packAcme(tarballs, { name: 'beta-lib', version: '0.1.0', installBeacon: { url: `${collector.base}/{name}/{version}`, delivery: 'inline' } });
    const app = project();
    expect((await npm(app, ['install', beacon, acme, beta])).code).toBe(0);
    await collector.waitFor(2, 5000);
    expect(collector.requests.map((q) => q.segments.slice(0, 2).join('@')).sort()).toEqual(['acme-lib@2.3.4', 'beta-lib@0.1.0']);
  });

  it('background delivery: the event arrives after npm has returned', async () => {
    const bg = packAcme(tarballs, { name: 'bg-lib', installBeacon: { url: `${collector.base}/{name}`, delivery: 'background' } });
    const app = project();
    expect((await npm(app, ['install', beacon, bg])).code).toBe(0);
    await collector.waitFor(1, 10_000);
    expect(collector.requests.map((q) => q.path)).toEqual(['/bg-lib']);
  });

  it("the author's own npm install in the package's repo sends nothing", async () => {
    const repo = join(temps.make('ib-repo-'), 'acme-lib');
    mkdirSync(repo);
    writeFileSync(join(repo, 'package.json'), JSON.stringify({
      name: 'acme-lib', version: '2.3.4', scripts: { postinstall: 'install-beacon' },
      installBeacon: { url: `${collector.base}/{name}`, delivery: 'inline' },
    }));
    expect((await npm(repo, ['install', beacon])).code).toBe(0);
    // A plain `npm install` runs the root package's own postinstall: prove the hook ran and chose to skip.
    const debug = await npm(repo, ['install', '--foreground-scripts'], { INSTALL_BEACON_DEBUG: '1' });
    expect(debug.code).toBe(0);
    expect(debug.stdout + debug.stderr).toContain('[rule: self-install]');
    const r = await npm(repo, ['install', '--foreground-scripts']);
    expect(r.code).toBe(0);
    expect(r.stdout + r.stderr).not.toContain('install-beacon:');
    await collector.settled();
    expect(collector.requests).toHaveLength(0);
  });
});
