import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startRegistry, type Registry } from './matrix/registry.js';
import { startCollector, type Collector } from './support/collector.js';
import { npmArgv, packAcme, packBeacon, REPORTING_MAIN } from './support/fixture.js';
import { baseEnv, run, type RunResult, TempDirs } from './support/process.js';

// "`npm ci` or a reinstall counts again" (README), with the real package
// managers and their defaults: install acme-lib; add another package, install
// again and rebuild where the manager has a rebuild (npm, pnpm, yarn 4): none
// of that installs acme-lib again, no event; remove acme-lib, add the same
// version again: one more event. node_modules/.install-beacon (ours)
// survives the remove, so the marker's rule alone decides. yarn 1 copies
// package.json from its cache with the cache's mtime, bun and deno link it
// from theirs, yarn 4 extracts it with its zip's time (1984): no reinstall of
// theirs gives it a newer mtime, only a newly created package folder
// (marker.ts: reborn). pnpm 10 keeps the removed package's
// folder in node_modules/.pnpm and links the same folder again: nothing of
// the package changes, and it stays reported (docs/markers.md, Limits).
// The tools come from the matrix's cache (~/.cache/install-beacon-matrix,
// filled by `npm run test:matrix`); a missing one is skipped and says so.
// Packages come from local tarballs; the registry is a dead loopback port.

const CACHE = process.env.INSTALL_BEACON_MATRIX_CACHE || join(homedir(), '.cache', 'install-beacon-matrix');
const PNPM10 = join(CACHE, 'pnpm@10.34.9', 'node_modules', 'pnpm', 'bin', 'pnpm.cjs');
// pnpm 12: whichever 12.x the matrix cached (it installs pnpm latest by range, so the version moves).
const newest = (prefix: string): string => {
  const found = existsSync(CACHE) ? readdirSync(CACHE).filter((n) => n.startsWith(prefix)) : [];
  const key = (n: string) => n.slice(prefix.length).split('.').map((x) => Number.parseInt(x, 10) || 0);
  found.sort((a, b) => { const [x, y] = [key(a), key(b)]; for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i]! - y[i]!; return 0; });
  return found.at(-1) ?? `${prefix}x`;
};
const PNPM12 = join(CACHE, newest('pnpm@12.'), 'node_modules', '.bin', 'pnpm');
const YARN = join(CACHE, '@yarnpkg+cli-dist@4.18.1', 'node_modules', '@yarnpkg', 'cli-dist', 'bin', 'yarn.js');
const BUN = join(CACHE, 'bun@1.4.5', 'node_modules', '.bin', 'bun');
const YARN1 = join(CACHE, 'yarn@1.22.22', 'node_modules', 'yarn', 'bin', 'yarn.js');
// The real file: Deno matches --allow-run=<path> against Deno.execPath(), symlinks unresolved.
const DENO = join(CACHE, 'deno@2.9.6', 'node_modules', 'deno', 'deno');
const VERDACCIO = join(CACHE, 'verdaccio@6.7.4', 'node_modules', 'verdaccio');
const DEAD = 'http://127.0.0.1:9/';
const missing = (tool: string) => (existsSync(tool) ? '' : ` (skipped: ${tool} is not in the tool cache; \`npm run test:matrix\` fills it)`);

const temps = new TempDirs();
let collector: Collector;
let acme: string;
let other: string;

beforeAll(async () => {
  collector = await startCollector();
  const tarballs = temps.make('ib-rpm-tarballs-');
  const beacon = packBeacon(tarballs);
  acme = packAcme(tarballs, {
    installBeacon: { url: `${collector.base}/{name}/{version}?trigger={trigger}&pm={pm}`, delivery: 'inline' },
    extra: { dependencies: { 'install-beacon': `file:${beacon}` } },
    main: REPORTING_MAIN,
  });
  other = packAcme(tarballs, { name: 'other-lib', version: '1.0.0', extra: { dependencies: {}, scripts: {} } });
}, 120_000);
afterAll(async () => {
  await collector?.close();
  temps.cleanup();
});
beforeEach(() => {
  collector.requests.length = 0;
});

const events = () => collector.requests.filter((q) => q.segments[0] === 'acme-lib').map((q) => `${q.query.pm} ${q.query.trigger}`);

function ok(r: RunResult): void {
  expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
}

interface Steps {
  add(): Promise<RunResult>;
  addOther(): Promise<RunResult>;
  install(): Promise<RunResult>;
  remove(): Promise<RunResult>;
  /** A program run of USE. */
  use(code: string): Promise<RunResult>;
}

/** Loads acme-lib (its reportInstall), and prints the times of its package.json and folder as the program sees them. */
const USE = [
  "require('acme-lib'); const fs = require('fs'), path = require('path');",
  'const t = (f) => { const s = fs.statSync(f); return { mtime: s.mtimeMs, ctime: s.ctimeMs, birth: s.birthtimeMs, ino: s.ino, nlink: s.nlink }; };',
  "const pj = require.resolve('acme-lib/package.json');",
  'console.log(JSON.stringify({ pkg: t(pj), dir: t(path.dirname(pj)) }));',
].join(' ');

type Times = { mtime: number; ctime: number; birth: number; ino: number; nlink: number };
interface Seen {
  /** The events after: the install; another package added, installed and rebuilt; acme-lib removed and added again. */
  events: string[][];
  installed: { pkg: Times; dir: Times };
  readded: { pkg: Times; dir: Times };
  /** The marker folder survived the remove. */
  markerKept: boolean;
}

/** `readded`: the events expected in all after the add again (the wait for them is bounded; nothing more may come). */
async function cycle(dir: string, markerDir: string, steps: Steps, readded = 2): Promise<Seen> {
  const seen: string[][] = [];
  const settle = async (n: number) => {
    // Exactly n, with a bounded wait; then nothing more once every sender is done.
    await collector.waitFor(n, 10_000).catch(() => undefined);
    await collector.settled();
    seen.push(events());
  };
  const use = async () => {
    const r = await steps.use(USE);
    ok(r);
    return JSON.parse(r.stdout.trim().split('\n').pop()!) as { pkg: Times; dir: Times };
  };
  ok(await steps.add());
  const installed = await use();
  await settle(1);
  ok(await steps.addOther());
  ok(await steps.install());
  await use();
  await settle(1);
  ok(await steps.remove());
  const markerKept = readdirSync(join(dir, markerDir)).some((n) => n.startsWith('acme-lib@2.3.4-'));
  ok(await steps.add());
  const again = await use();
  await settle(readded);
  return { events: seen, installed, readded: again, markerKept };
}


const NM = join('node_modules', '.install-beacon');
const nodeUse = (p: { dir: string; home: string }) => (code: string) => run(process.execPath, ['-e', code], { cwd: p.dir, env: baseEnv(p.home), timeoutMs: 60_000 });
const counts = (s: Seen) => s.events.map((e) => e.length);
/** Run the commands one after another; the first that fails is the answer. */
const inTurn = async (...steps: Array<() => Promise<RunResult>>): Promise<RunResult> => {
  let last!: RunResult;
  for (const step of steps) if ((last = await step()).code !== 0) break;
  return last;
};

/** The cycle under yarn 4 PnP with its defaults (the global cache), in a project with `pkg`; `events` as cycle() takes it. */
function yarn4Cycle(prefix: string, pkg: Record<string, unknown>, events?: number): ReturnType<typeof cycle> {
  const yarnrc = `nodeLinker: pnp\nnpmRegistryServer: "${DEAD.replace(/\/$/, '')}"\nenableTelemetry: false\n`;
  const p = temps.project(prefix, pkg, { '.yarnrc.yml': yarnrc, 'yarn.lock': '' });
  const yarn = (args: string[]) => run(process.execPath, [YARN, ...args], { cwd: p.dir, env: baseEnv(p.home), timeoutMs: 120_000 });
  return cycle(p.dir, join('.yarn', '.install-beacon'), {
    add: () => yarn(['add', `acme-lib@file:${acme}`]),
    addOther: () => yarn(['add', `other-lib@file:${other}`]),
    install: () => inTurn(() => yarn(['install']), () => yarn(['rebuild'])),
    remove: () => yarn(['remove', 'acme-lib']),
    use: (code) => yarn(['node', '-e', code]),
  }, events);
}

describe('install, add another package, remove, add the same version again', () => {
  it('npm 11, the control (the host npm; it runs the postinstall): package.json is extracted afresh, 2 events', async () => {
    const p = temps.project('ib-rpm-npm-');
    const npm = (args: string[]) => run(...npmArgv([...args, '--no-audit', '--no-fund', `--registry=${DEAD}`, '--loglevel=error']), { cwd: p.dir, env: baseEnv(p.home, { npm_config_cache: join(p.home, 'npm-cache') }), timeoutMs: 120_000 });
    const s = await cycle(p.dir, NM, { add: () => npm(['install', acme]), addOther: () => npm(['install', other]), install: () => inTurn(() => npm(['install']), () => npm(['rebuild'])), remove: () => npm(['uninstall', 'acme-lib']), use: nodeUse(p) });
    expect(s.events).toEqual([['npm postinstall'], ['npm postinstall'], ['npm postinstall', 'npm postinstall']]);
    expect(s.markerKept).toBe(true);
    expect(s.readded.pkg.mtime).toBeGreaterThan(s.installed.pkg.mtime);
  }, 240_000);

  it.skipIf(!!missing(PNPM10))(`pnpm 10 (onlyBuiltDependencies): the same package folder is linked again, 1 event (the documented limit)${missing(PNPM10)}`, async () => {
    const p = temps.project('ib-rpm-pnpm10-');
    writeFileSync(join(p.dir, 'pnpm-workspace.yaml'), `onlyBuiltDependencies:\n  - acme-lib\n  - "acme-lib@file:${relative(p.dir, acme)}"\n`);
    const pnpm = (args: string[]) => run(process.execPath, [PNPM10, ...args, '--reporter=append-only'], { cwd: p.dir, env: baseEnv(p.home, { npm_config_registry: DEAD }), timeoutMs: 120_000 });
    const s = await cycle(p.dir, NM, { add: () => pnpm(['add', acme]), addOther: () => pnpm(['add', other]), install: () => inTurn(() => pnpm(['install']), () => pnpm(['rebuild'])), remove: () => pnpm(['remove', 'acme-lib']), use: nodeUse(p) }, 1);
    expect(counts(s)).toEqual([1, 1, 1]);
    expect(s.markerKept).toBe(true);
    // Why: the folder pnpm kept in node_modules/.pnpm, untouched.
    expect([s.readded.dir.birth, s.readded.dir.ino, s.readded.pkg.ctime]).toEqual([s.installed.dir.birth, s.installed.dir.ino, s.installed.pkg.ctime]);
  }, 240_000);

  it.skipIf(!!missing(PNPM10))(`pnpm 10: node_modules/.pnpm/<acme-lib> deleted, then pnpm install: a new folder, 2 events${missing(PNPM10)}`, async () => {
    const p = temps.project('ib-rpm-pnpm10d-');
    writeFileSync(join(p.dir, 'pnpm-workspace.yaml'), `onlyBuiltDependencies:\n  - acme-lib\n  - "acme-lib@file:${relative(p.dir, acme)}"\n`);
    const pnpm = (args: string[]) => run(process.execPath, [PNPM10, ...args, '--reporter=append-only'], { cwd: p.dir, env: baseEnv(p.home, { npm_config_registry: DEAD }), timeoutMs: 120_000 });
    const store = join(p.dir, 'node_modules', '.pnpm');
    const s = await cycle(p.dir, NM, {
      add: () => pnpm(['add', acme]),
      addOther: () => pnpm(['add', other]),
      install: () => pnpm(['install']),
      remove: async () => {
        for (const d of readdirSync(store).filter((n) => n.startsWith('acme-lib@'))) rmSync(join(store, d), { recursive: true });
        return pnpm(['install']);
      },
      use: nodeUse(p),
    });
    expect(counts(s)).toEqual([1, 1, 2]);
    expect(s.readded.dir.birth).toBeGreaterThan(s.installed.dir.birth);
  }, 240_000);

  it.skipIf(!!missing(PNPM12))(`pnpm 12 (allowBuilds): package.json is written afresh, 2 events${missing(PNPM12)}`, async () => {
    const p = temps.project('ib-rpm-pnpm12-');
    writeFileSync(join(p.dir, 'pnpm-workspace.yaml'), `allowBuilds:\n  acme-lib: true\n  "acme-lib@file:${relative(p.dir, acme)}": true\n`);
    const pnpm = (args: string[]) => run(PNPM12, [...args, '--reporter=append-only'], { cwd: p.dir, env: baseEnv(p.home, { npm_config_registry: DEAD }), timeoutMs: 120_000 });
    const s = await cycle(p.dir, NM, { add: () => pnpm(['add', acme]), addOther: () => pnpm(['add', other]), install: () => inTurn(() => pnpm(['install']), () => pnpm(['rebuild'])), remove: () => pnpm(['remove', 'acme-lib']), use: nodeUse(p) });
    expect(counts(s)).toEqual([1, 1, 2]);
    expect(s.markerKept).toBe(true);
    expect(s.readded.pkg.mtime).toBeGreaterThan(s.installed.pkg.mtime);
  }, 240_000);

  it.skipIf(!!missing(YARN1))(`yarn 1 (runs the postinstall): package.json is copied from its cache with the cache's mtime, 2 events${missing(YARN1)}`, async () => {
    const p = temps.project('ib-rpm-yarn1-');
    const yarn1 = (args: string[]) => run(process.execPath, [YARN1, ...args, '--registry', DEAD, '--cache-folder', join(p.home, 'yarn-cache'), '--non-interactive'], { cwd: p.dir, env: baseEnv(p.home, { YARN_DISABLE_SELF_UPDATE_CHECK: 'true' }), timeoutMs: 120_000 });
    const s = await cycle(p.dir, NM, { add: () => yarn1(['add', `file:${acme}`]), addOther: () => yarn1(['add', `file:${other}`]), install: () => yarn1(['install']), remove: () => yarn1(['remove', 'acme-lib']), use: nodeUse(p) });
    expect(counts(s)).toEqual([1, 1, 2]);
    expect(s.markerKept).toBe(true);
    // Why the mtime rule alone missed it: a new file with the old mtime, in a new folder (a new file, though
    // the file system may hand it the inode number the removed one freed, so that number proves nothing).
    expect(s.readded.pkg.mtime).toBe(s.installed.pkg.mtime);
    expect(s.readded.dir.birth).toBeGreaterThan(s.installed.dir.birth);
  }, 240_000);

  for (const trusted of [true, false]) {
    it.skipIf(!!missing(BUN))(`bun 1.4, ${trusted ? 'trustedDependencies (its postinstall)' : 'scripts blocked, its default (reportInstall)'}: package.json is a hard link from its cache, 2 events${missing(BUN)}`, async () => {
      const p = temps.project('ib-rpm-bun-', trusted ? { trustedDependencies: ['acme-lib'] } : {});
      const bun = (args: string[]) => run(BUN, [...args, `--registry=${DEAD}`], { cwd: p.dir, env: baseEnv(p.home), timeoutMs: 120_000 });
      const s = await cycle(p.dir, NM, { add: () => bun(['add', acme]), addOther: () => bun(['add', other]), install: () => bun(['install']), remove: () => bun(['remove', 'acme-lib']), use: nodeUse(p) });
      expect(s.events.map((e) => [...new Set(e)])).toEqual(Array(3).fill([trusted ? 'bun postinstall' : 'bun runtime']));
      expect(counts(s)).toEqual([1, 1, 2]);
      expect(s.markerKept).toBe(true);
      // Why the mtime rule alone missed it: the same file, linked again (its ctime moved), in a new folder.
      expect(s.readded.pkg.nlink).toBeGreaterThan(1);
      expect([s.readded.pkg.ino, s.readded.pkg.mtime]).toEqual([s.installed.pkg.ino, s.installed.pkg.mtime]);
      expect(s.readded.dir.birth).toBeGreaterThan(s.installed.dir.birth);
    }, 240_000);
  }

  it.skipIf(!!missing(YARN))(`yarn 4 PnP (dependenciesMeta built: unplugged): package.json keeps its zip time (1984), 2 events${missing(YARN)}`, async () => {
    const s = await yarn4Cycle('ib-rpm-yarn-', { dependenciesMeta: { 'acme-lib': { built: true } } });
    expect(counts(s)).toEqual([1, 1, 2]);
    expect(s.markerKept).toBe(true);
    const zipTime = Date.UTC(1984, 5, 22, 21, 50);
    expect([s.installed.pkg.mtime, s.readded.pkg.mtime]).toEqual([zipTime, zipTime]);
    expect(s.readded.dir.birth).toBeGreaterThan(s.installed.dir.birth);
  }, 240_000);

  it.skipIf(!!missing(YARN))(`yarn 4 PnP, scripts not run, its default (reportInstall): the package is a zip in the global cache, 1 event (the documented limit)${missing(YARN)}`, async () => {
    const s = await yarn4Cycle('ib-rpm-yarnz-', {}, 1);
    expect(counts(s)).toEqual([1, 1, 1]);
    expect(s.events[0]).toEqual(['yarn runtime']);
    expect(s.markerKept).toBe(true);
    // Why: the package and its folder are the zip's entries, with the zip's time (1984), before and after.
    const zipTime = Date.UTC(1984, 5, 22, 21, 50);
    expect([s.installed.pkg.mtime, s.installed.dir.birth, s.readded.pkg.mtime, s.readded.dir.birth]).toEqual([zipTime, zipTime, zipTime, zipTime]);
  }, 240_000);

  describe('deno 2.9 (its node_modules/.deno store; from a local registry, the only way deno installs)', () => {
    let registry: Registry | undefined;
    beforeAll(async () => {
      if (missing(DENO) || missing(VERDACCIO)) return;
      const work = temps.make('ib-rpm-deno-registry-');
      registry = await startRegistry({ name: 'verdaccio', version: '6.7.4', pkgDir: VERDACCIO, binDir: join(VERDACCIO, '..', '.bin') }, process.execPath, work);
      const dest = temps.make('ib-rpm-deno-tarballs-');
      const installBeacon = { url: `${collector.base}/{name}/{version}?trigger={trigger}&pm={pm}`, delivery: 'inline' };
      for (const tgz of [
        packBeacon(dest),
        packAcme(dest, { installBeacon, main: REPORTING_MAIN }),
        packAcme(dest, { name: 'other-lib', version: '1.0.0', extra: { dependencies: {}, scripts: {} } }),
      ])
        await registry.publish(tgz, work);
    }, 120_000);
    afterAll(async () => {
      await registry?.stop();
    });

    it.skipIf(!!(missing(DENO) || missing(VERDACCIO)))(`deno add --allow-scripts (its postinstall; a program run afterwards): package.json is a hard link from its cache, 2 events${missing(DENO) || missing(VERDACCIO)}`, async () => {
      const p = temps.project('ib-rpm-deno-');
      const deno = (args: string[]) =>
        run(DENO, [...args.slice(0, 1), '--minimum-dependency-age=0', ...args.slice(1)], {
          cwd: p.dir,
          env: baseEnv(p.home, { DENO_DIR: join(p.home, 'deno'), DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1', NPM_CONFIG_REGISTRY: registry!.url }),
          timeoutMs: 120_000,
        });
      const plain = (args: string[]) => run(DENO, args, { cwd: p.dir, env: baseEnv(p.home, { DENO_DIR: join(p.home, 'deno'), DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1', NPM_CONFIG_REGISTRY: registry!.url }), timeoutMs: 120_000 });
      const s = await cycle(p.dir, NM, {
        add: () => deno(['add', '--allow-scripts=npm:acme-lib', 'npm:acme-lib']),
        addOther: () => deno(['add', 'npm:other-lib']),
        install: () => deno(['install', '--allow-scripts=npm:acme-lib']),
        remove: () => plain(['remove', 'acme-lib']),
        use: nodeUse(p),
      });
      expect(counts(s)).toEqual([1, 1, 2]);
      expect(s.markerKept).toBe(true);
      // Why the mtime rule alone missed it: package.json is a hard link from DENO_DIR (same inode, same mtime), in a new folder.
      expect([s.readded.pkg.ino, s.readded.pkg.mtime]).toEqual([s.installed.pkg.ino, s.installed.pkg.mtime]);
      expect(s.readded.dir.birth).toBeGreaterThan(s.installed.dir.birth);
    }, 240_000);
  });
});

// The promises the folder rule must keep: a tree copied with its times stays
// reported (cp -a gives every folder a new birth time, and the marker a new
// ctime), and so does an image layer, also when a container writes into the
// package folder. overlayfs then copies the
// folder up: in the mount it is born at that moment, after the marker, and its
// mtime moves with the write, while the marker and package.json stay the lower
// layer's. Reproduced in a mount namespace (root, unshare -m).
const overlay = (() => {
  const r = spawnSync('unshare', ['-m', 'true'], { stdio: 'ignore' });
  return r.error || r.status !== 0 ? ' (skipped: unshare -m is not available or not permitted here)' : '';
})();

// Issue 19 item 6: an image built with scripts blocked (npm --ignore-scripts:
// no postinstall, so no marker in the layer). Each container is an overlay
// with a fresh upper layer over it: a marker written there dies with the
// container, so claiming one would count every container start. The runtime
// trigger claims nothing there; the tree itself, outside any container, still
// reports once.
describe('an image layer without a marker, started as three containers', () => {
  it.skipIf(!!overlay)(`npm install --ignore-scripts in the lower layer; three overlay mounts with fresh upper layers, a require in each: no event, nothing written into the layers; then a require in the tree itself: one event${overlay}`, async () => {
    const p = temps.project('ib-rpm-img-');
    const npm = (args: string[]) => run(...npmArgv([...args, '--no-audit', '--no-fund', `--registry=${DEAD}`, '--loglevel=error']), { cwd: p.dir, env: baseEnv(p.home, { npm_config_cache: join(p.home, 'npm-cache') }), timeoutMs: 120_000 });
    ok(await npm(['install', '--ignore-scripts', acme]));
    await collector.settled();
    expect(events()).toEqual([]);
    expect(existsSync(join(p.dir, NM)), 'no marker folder in the image').toBe(false);
    const written: string[][] = [];
    for (let container = 1; container <= 3; container++) {
      const work = temps.make('ib-rpm-img-ctr-');
      for (const d of ['u', 'w', 'm']) mkdirSync(join(work, d));
      const script = [
        `mount -t overlay overlay -o lowerdir=${p.dir},upperdir=${work}/u,workdir=${work}/w ${work}/m`,
        `cd ${work}/m`,
        `${process.execPath} -e "require('acme-lib')"`,
      ].join('\n');
      const r = await run('unshare', ['-m', 'sh', '-ec', script], { env: baseEnv(p.home), timeoutMs: 60_000 });
      expect(r.code, r.stderr).toBe(0);
      await collector.settled();
      written.push(readdirSync(join(work, 'u')));
    }
    expect(events()).toEqual([]);
    expect(written, 'nothing written into any container layer').toEqual([[], [], []]);
    // Outside any container the same tree is an install whose postinstall never ran: it reports, once.
    ok(await nodeUse({ dir: p.dir, home: p.home })("require('acme-lib')"));
    ok(await nodeUse({ dir: p.dir, home: p.home })("require('acme-lib')"));
    await collector.settled();
    expect(events().map((e) => e.split(' ')[1])).toEqual(['runtime']);
  }, 240_000);
});

describe('copies stay reported, though their package folders are born after the marker', () => {
  it.skipIf(!!missing(BUN))(`bun 1.4: the tree copied with cp -a (every folder born at the copy) stays reported${missing(BUN)}`, async () => {
    const p = temps.project('ib-rpm-bunc-', { trustedDependencies: ['acme-lib'] });
    ok(await run(BUN, ['add', acme, `--registry=${DEAD}`], { cwd: p.dir, env: baseEnv(p.home), timeoutMs: 120_000 }));
    await collector.settled();
    expect(events()).toEqual(['bun postinstall']);
    const copy = join(temps.make('ib-rpm-bunc-copy-'), 'proj');
    ok(await run('cp', ['-a', p.dir, copy]));
    const r = await nodeUse({ dir: copy, home: p.home })(USE);
    ok(r);
    await collector.settled();
    expect(events()).toEqual(['bun postinstall']);
    // The case this is about: in the copy, the package folder was born after the marker was written.
    const marker = readdirSync(join(copy, NM)).find((n) => n.startsWith('acme-lib@'))!;
    const born = (JSON.parse(r.stdout.trim().split('\n').pop()!) as { dir: Times }).dir.birth;
    expect(born).toBeGreaterThan(statSync(join(copy, NM, marker)).mtimeMs);
  }, 240_000);

  it.skipIf(!!overlay)(`an image layer a container writes into (overlay copy-up): npm install reported in the lower layer; in a mount a file is written into node_modules/acme-lib and acme-lib is loaded: no new event${overlay}`, async () => {
    const p = temps.project('ib-rpm-ovl-');
    const npm = (args: string[]) => run(...npmArgv([...args, '--no-audit', '--no-fund', `--registry=${DEAD}`, '--loglevel=error']), { cwd: p.dir, env: baseEnv(p.home, { npm_config_cache: join(p.home, 'npm-cache') }), timeoutMs: 120_000 });
    ok(await npm(['install', acme]));
    await collector.settled();
    expect(events()).toEqual(['npm postinstall']);
    const work = temps.make('ib-rpm-ovl-work-');
    for (const d of ['u', 'w', 'm']) mkdirSync(join(work, d));
    const times = "const fs = require('fs'); const m = fs.readdirSync('node_modules/.install-beacon').find((n) => n.startsWith('acme-lib')); const d = fs.statSync('node_modules/acme-lib'); console.log(JSON.stringify({ born: d.birthtimeMs, mtime: d.mtimeMs, marker: fs.statSync('node_modules/.install-beacon/' + m).mtimeMs }))";
    const script = [
      `mount -t overlay overlay -o lowerdir=${p.dir},upperdir=${work}/u,workdir=${work}/w ${work}/m`,
      `cd ${work}/m`,
      'echo cached > node_modules/acme-lib/cache.txt',
      `${process.execPath} -e "require('acme-lib')"`,
      `${process.execPath} -e "${times}"`,
    ].join('\n');
    const r = await run('unshare', ['-m', 'sh', '-ec', script], { env: baseEnv(p.home), timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    await collector.settled();
    expect(events()).toEqual(['npm postinstall']);
    // The case this is about: the folder, copied up, was born after the marker and written since.
    const t = JSON.parse(r.stdout.trim().split('\n').pop()!) as { born: number; mtime: number; marker: number };
    expect(t.born).toBeGreaterThan(t.marker);
    expect(t.mtime).toBeGreaterThanOrEqual(t.born);
    // Only the folder and the new file were copied up: the marker was found, not claimed again.
    expect(readdirSync(join(work, 'u'))).toEqual(['node_modules']);
    expect(readdirSync(join(work, 'u', 'node_modules'))).toEqual(['acme-lib']);
  }, 240_000);
});
