import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startCollector, type Collector } from './support/collector.js';
import { npmLocal, packAcme, packBeacon, REPORTING_MAIN, writeProject } from './support/fixture.js';
import { baseEnv, BIN, run, sendersDone, TempDirs } from './support/process.js';

// {direct} and {libc_version} on real `npm install` runs of packed fixtures,
// for both triggers: the postinstall hook (inline delivery, so every event has
// arrived when npm returns) and reportInstall on a program's first run after
// `npm install --ignore-scripts` (a detached sender; waited for by PID).

const temps = new TempDirs();
let collector: Collector;
let home: string;
let beacon: string;
let acme: string;
let midA: string;
let acmeGlobal: string;
let acmeBg: string;
let midB: string;
let acme235: string;
let devOnly: string;

beforeAll(async () => {
  collector = await startCollector();
  const tarballs = temps.make('ib-direct-tarballs-');
  home = temps.make('ib-direct-home-');
  beacon = packBeacon(tarballs);
  acme = packAcme(tarballs, {
    installBeacon: { url: `${collector.base}/{name}/{version}?direct={direct}&libc={libc}&libc_version={libc_version}&trigger={trigger}`, delivery: 'inline' },
    main: REPORTING_MAIN,
  });
  // A global package gets its own copy of its dependencies: install-beacon from the local tarball.
  acmeGlobal = packAcme(tarballs, {
    installBeacon: { url: `${collector.base}/{name}/{version}?direct={direct}&trigger={trigger}`, delivery: 'inline' },
    extra: { dependencies: { 'install-beacon': `file:${beacon}` } },
  });
  // Background delivery (what "auto" means outside CI and containers): the hook leaves {direct}, {libc} and
  // {libc_version} to the detached sender, which computes them after the hook has exited.
  acmeBg = packAcme(tarballs, {
    name: 'acme-bg',
    installBeacon: { url: `${collector.base}/{name}/{version}?direct={direct}&libc={libc}&libc_version={libc_version}&trigger={trigger}`, delivery: 'background' },
  });
  midB = packAcme(tarballs, { name: 'mid-b', version: '1.0.0', postinstall: 'exit 0', extra: { dependencies: { 'acme-bg': `file:${acmeBg}` } } });
  // mid-a pulls acme-lib in; it reports nothing itself.
  midA = packAcme(tarballs, { name: 'mid-a', version: '1.0.0', postinstall: 'exit 0', extra: { dependencies: { 'acme-lib': `file:${acme}` } }, main: "module.exports = require('acme-lib');\n" });
  // The same package at 2.3.5 (so mid-a's file: spec for 2.3.4 nests its own copy), and a package that lists acme-lib only in devDependencies (never installed for a dependent).
  acme235 = packAcme(tarballs, {
    version: '2.3.5',
    installBeacon: { url: `${collector.base}/{name}/{version}?direct={direct}&libc={libc}&libc_version={libc_version}&trigger={trigger}`, delivery: 'inline' },
  });
  devOnly = packAcme(tarballs, { name: 'dev-only', version: '1.0.0', postinstall: 'exit 0', extra: { devDependencies: { 'acme-lib': '^2' } } });
}, 120_000);
afterAll(async () => {
  await collector.close();
  temps.cleanup();
});
beforeEach(() => {
  collector.requests.length = 0;
});

const npm = (cwd: string, args: string[]) => npmLocal(cwd, args, home);
const glibc = (): string => /^ldd .* (\d+\.\d+)$/m.exec(execFileSync('ldd', ['--version'], { encoding: 'utf8' }))?.[1] ?? 'not glibc';

async function ok(p: Promise<{ code: number | null; stderr: string }>): Promise<void> {
  const r = await p;
  expect(r.code, r.stderr).toBe(0);
}

/** A program run in `cwd` that loads `module` (which loads acme-lib, which calls reportInstall); waits for its sender. */
async function programRun(cwd: string, module: string): Promise<void> {
  const r = await run(process.execPath, ['-e', `require(${JSON.stringify(module)})`], { cwd, env: baseEnv(home), timeoutMs: 30_000 });
  expect(r).toMatchObject({ code: 0, stderr: '' });
  await sendersDone(String(collector.port));
}

const events = () => collector.requests.filter((q) => q.segments[0] === 'acme-lib').map((q) => ({ direct: q.query.direct, trigger: q.query.trigger }));

describe('{direct} on real npm installs', () => {
  it('npm install acme-lib: asked for (npm writes package.json only after the scripts ran), with the libc this Node runs on', async () => {
    const proj = join(temps.make('ib-direct-asked-'), 'proj');
    writeProject(proj);
    await ok(npm(proj, ['install', beacon, acme]));
    expect(events()).toEqual([{ direct: 'true', trigger: 'postinstall' }]);
    if (process.platform === 'linux') expect(collector.requests[0]!.query).toMatchObject({ libc: 'glibc', libc_version: glibc() });
    // explain in the project: the URL an install here reports, and that both fields identify no one.
    const r = await run(process.execPath, [BIN, 'explain'], { cwd: proj, env: baseEnv(home), timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/URL: +http:\/\/127\.0\.0\.1:\d+\/acme-lib\/2\.3\.4\?direct=true&libc=\w+&libc_version=[\w.]+&trigger=postinstall/);
    expect(r.stdout).toContain('note:  {direct} (true/false/unknown: did the project ask for this package) and {libc_version} (e.g. 2.36) identify no one');
  });

  it('npm install mid-a: acme-lib is pulled in', async () => {
    const proj = join(temps.make('ib-direct-pulled-'), 'proj');
    writeProject(proj);
    await ok(npm(proj, ['install', beacon, midA]));
    expect(events()).toEqual([{ direct: 'false', trigger: 'postinstall' }]);
  });

  it('a project that lists acme-lib and mid-a (which also depends on it): asked for', async () => {
    const proj = join(temps.make('ib-direct-both-'), 'proj');
    writeProject(proj, { dependencies: { 'install-beacon': `file:${beacon}`, 'acme-lib': `file:${acme}`, 'mid-a': `file:${midA}` } });
    await ok(npm(proj, ['install']));
    expect(events()).toEqual([{ direct: 'true', trigger: 'postinstall' }]);
  });

  it("an npm workspace: a member's own dependency is asked for, hoisted into the root; another member's mid-a does not change that", async () => {
    const mono = join(temps.make('ib-direct-ws-'), 'mono');
    writeProject(mono, { workspaces: ['packages/*'] });
    writeProject(join(mono, 'packages', 'web'), { name: 'web', dependencies: { 'install-beacon': `file:${beacon}`, 'acme-lib': `file:${acme}` } });
    writeProject(join(mono, 'packages', 'api'), { name: 'api', dependencies: { 'mid-a': `file:${midA}` } });
    await ok(npm(mono, ['install']));
    expect(events()).toEqual([{ direct: 'true', trigger: 'postinstall' }]);
  });

  it("an npm workspace: only a member's mid-a depends on it: pulled in", async () => {
    const mono = join(temps.make('ib-direct-ws2-'), 'mono');
    writeProject(mono, { workspaces: ['packages/*'] });
    writeProject(join(mono, 'packages', 'api'), { name: 'api', dependencies: { 'install-beacon': `file:${beacon}`, 'mid-a': `file:${midA}` } });
    await ok(npm(mono, ['install']));
    expect(events()).toEqual([{ direct: 'false', trigger: 'postinstall' }]);
  });

  it('reportInstall (scripts off): asked for in one project, pulled in in another', async () => {
    const asked = join(temps.make('ib-direct-rt1-'), 'proj');
    writeProject(asked);
    await ok(npm(asked, ['install', '--ignore-scripts', beacon, acme]));
    const pulled = join(temps.make('ib-direct-rt2-'), 'proj');
    writeProject(pulled);
    await ok(npm(pulled, ['install', '--ignore-scripts', beacon, midA]));
    expect(events()).toEqual([]);
    await programRun(asked, 'acme-lib');
    await programRun(pulled, 'mid-a');
    expect(events()).toEqual([{ direct: 'true', trigger: 'runtime' }, { direct: 'false', trigger: 'runtime' }]);
  });

  it('background delivery: the detached sender computes them (asked for, then pulled in), with the libc this Node runs on', async () => {
    const asked = join(temps.make('ib-direct-bg1-'), 'proj');
    writeProject(asked);
    await ok(npm(asked, ['install', beacon, acmeBg]));
    await sendersDone(String(collector.port));
    const pulled = join(temps.make('ib-direct-bg2-'), 'proj');
    writeProject(pulled);
    await ok(npm(pulled, ['install', beacon, midB]));
    await sendersDone(String(collector.port));
    const libc = process.platform === 'linux' ? { libc: 'glibc', libc_version: glibc() } : { libc: 'none', libc_version: 'none' };
    expect(collector.requests.map((q) => ({ name: q.segments[0], ...q.query }))).toEqual([
      { name: 'acme-bg', direct: 'true', ...libc, trigger: 'postinstall' },
      { name: 'acme-bg', direct: 'false', ...libc, trigger: 'postinstall' },
    ]);
  });

  // Issue 19 item 11: a top-level package is acme-lib's dependent only if it installs it and resolves it to this very copy.
  it('npm install acme-lib dev-only (which lists acme-lib only in devDependencies, never installed for it): asked for', async () => {
    const proj = join(temps.make('ib-direct-dev-'), 'proj');
    writeProject(proj);
    await ok(npm(proj, ['install', beacon, acme, devOnly]));
    expect(events()).toEqual([{ direct: 'true', trigger: 'postinstall' }]);
  });

  it('npm install acme-lib@2.3.5 mid-a (which nests its own 2.3.4): 2.3.5 is asked for, the nested 2.3.4 pulled in; npm rebuild says the same', async () => {
    const proj = join(temps.make('ib-direct-nest-'), 'proj');
    writeProject(proj);
    await ok(npm(proj, ['install', beacon, acme235, midA]));
    const versions = () => collector.requests.filter((q) => q.segments[0] === 'acme-lib').map((q) => `${q.segments[1]} direct=${q.query.direct}`).sort();
    expect(versions()).toEqual(['2.3.4 direct=false', '2.3.5 direct=true']);
    collector.requests.length = 0;
    // A rebuild reads the saved package.json: the same answers (the markers were removed, so both run again).
    rmSync(join(proj, 'node_modules', '.install-beacon'), { recursive: true, force: true });
    await ok(npm(proj, ['rebuild']));
    expect(versions()).toEqual(['2.3.4 direct=false', '2.3.5 direct=true']);
  });

  it('npm install -g acme-lib: asked for', async () => {
    const prefix = temps.make('ib-direct-g-');
    await ok(npm(prefix, ['install', '-g', '--prefix', prefix, acmeGlobal]));
    expect(events()).toEqual([{ direct: 'true', trigger: 'postinstall' }]);
  });
});
