import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { denoGrants, packageDirOf, pnpArgs, runsSender, senderArgs, type PermissionDescriptor } from '../src/runtime.js';
import { startCollector, type Collector } from './support/collector.js';
import { npmLocal, packAcme, packBeacon, REPORTING_MAIN, writeProject } from './support/fixture.js';
import { baseEnv, run, TempDirs } from './support/process.js';

describe('packageDirOf', () => {
  it.each([
    ['/app/node_modules/acme-lib/index.js', '/app/node_modules/acme-lib'],
    ['/app/node_modules/acme-lib/dist/esm/index.mjs', '/app/node_modules/acme-lib'],
    ['/app/node_modules/acme-lib', '/app/node_modules/acme-lib'],
    ['/app/node_modules/@acme/lib/lib/index.js', '/app/node_modules/@acme/lib'],
    ['/app/node_modules/.pnpm/acme-lib@2.3.4/node_modules/acme-lib/index.js', '/app/node_modules/.pnpm/acme-lib@2.3.4/node_modules/acme-lib'],
    ['/app/node_modules/a/node_modules/acme-lib/index.js', '/app/node_modules/a/node_modules/acme-lib'],
    ['/app/.yarn/cache/acme-lib-npm-2.3.4-x.zip/node_modules/acme-lib/index.js', '/app/.yarn/cache/acme-lib-npm-2.3.4-x.zip/node_modules/acme-lib'],
    ['C:\\app\\node_modules\\acme-lib\\index.js', 'C:\\app\\node_modules\\acme-lib'],
    ['/src/acme-lib/index.js', undefined],
  ])('%s → %s', (file, dir) => {
    expect(packageDirOf(file)).toBe(dir);
  });
});

describe('denoGrants: under Deno, only what was already granted (queried, never requested)', () => {
  const MARKER = '/app/node_modules/.install-beacon';
  const DENO = '/usr/local/bin/deno';
  type Grants = Partial<Record<'env' | 'read' | 'write' | 'run', 'granted' | 'prompt' | 'denied'>>;
  /** A permission state per name, and the order the queries came in (execPath is asked only after read). */
  const check = (grants: Grants, noTree = false) => {
    const markerDir = noTree ? undefined : MARKER;
    const asked: string[] = [];
    const query = (d: PermissionDescriptor) => {
      asked.push(`${d.name}${d.path ? `:${d.path}` : ''}${d.command ? `:${d.command}` : ''}`);
      return grants[d.name] ?? 'prompt';
    };
    const execPath = () => {
      asked.push('execPath');
      if (grants.read !== 'granted') throw new Error('Deno.execPath() without read: a prompt');
      return DENO;
    };
    return { ok: denoGrants(query, markerDir, execPath), asked };
  };
  const all: Grants = { env: 'granted', read: 'granted', write: 'granted', run: 'granted' };
  it('everything granted (-A, or the README list): yes, after asking env, read, write of the marker folder, run of deno itself', () => {
    expect(check(all)).toEqual({ ok: true, asked: ['env', 'read', `write:${MARKER}`, 'execPath', `run:${DENO}`] });
  });
  it.each([
    ['no permissions at all (the default)', {}],
    ['env not granted (or only some variables)', { ...all, env: 'prompt' }],
    ['env denied', { ...all, env: 'denied' }],
    ['read not granted (or only some paths)', { ...all, read: 'prompt' }],
    ['the marker folder not writable', { ...all, write: 'prompt' }],
    ['deno not runnable', { ...all, run: 'prompt' }],
    ['run denied', { ...all, run: 'denied' }],
  ] as const)('%s: no', (_name, grants) => {
    const { ok, asked } = check(grants);
    expect(ok).toBe(false);
    // Deno.execPath() (which needs read) is never called before read is known to be granted.
    if (asked.includes('execPath')) expect(asked.indexOf('execPath')).toBeGreaterThan(asked.indexOf('read'));
  });
  it('no installed tree (only the debug line could be printed): env and read alone', () => {
    expect(check({ env: 'granted', read: 'granted' }, true)).toEqual({ ok: true, asked: ['env', 'read'] });
    expect(check({ env: 'granted' }, true)).toEqual({ ok: false, asked: ['env', 'read'] });
    expect(check({}, true)).toEqual({ ok: false, asked: ['env'] });
  });
});

describe('runsSender: only an executable that runs bin.cjs starts the sender', () => {
  it.each([
    ['node', '/usr/bin/node', true],
    ['node', 'C:\\Program Files\\nodejs\\node.exe', true],
    ['bun', '/root/.bun/bin/bun', true],
    ['bun', '/app/node_modules/bun/bin/bun.exe', true],
    ['deno', '/root/.deno/bin/deno', true],
    ['deno', 'C:\\Users\\me\\.deno\\bin\\deno.exe', true],
    ['bun', '/usr/local/bin/my-app (bun build --compile)', false],
    ['deno', '/usr/local/bin/my-app (deno compile)', false],
    ['deno', '/opt/denoise', false],
  ] as const)('%s at %s → %s', (runtime, execPath, expected) => {
    expect(runsSender(runtime, execPath.replace(/ \(.*$/, ''))).toBe(expected);
  });
});

describe('senderArgs: what starts the sender in each runtime', () => {
  const site = { markerDir: '/app/node_modules/.install-beacon' };
  it('Node: nothing extra outside PnP; Bun: bin.cjs as it is', () => {
    expect(senderArgs('node', site)).toEqual([]);
    expect(senderArgs('bun', { ...site, pnpFile: '/app/.pnp.cjs' })).toEqual([]);
  });
  it('Deno: deno run, never prompting, without the caller\'s config, writing only the marker folder', () => {
    expect(senderArgs('deno', site)).toEqual(['run', '--no-prompt', '--no-config', '--allow-net', '--allow-env', '--allow-read', '--allow-write=/app/node_modules/.install-beacon']);
  });
});

describe('pnpArgs', () => {
  it('loads nothing extra outside Yarn PnP', () => {
    expect(pnpArgs({})).toEqual([]);
  });
  it("loads the project's .pnp.cjs for a PnP install, when it exists", () => {
    const dir = temps.make('ib-pnp-');
    writeFileSync(join(dir, '.pnp.cjs'), '');
    expect(pnpArgs({ pnpFile: join(dir, '.pnp.cjs') })).toEqual(['--require', join(dir, '.pnp.cjs')]);
    expect(pnpArgs({ pnpFile: '/nowhere/.pnp.cjs' })).toEqual([]);
  });
});

// Real processes: acme-lib calls reportInstall(__filename) at the top of its main module.

const temps = new TempDirs();
let collector: Collector;
let beacon: string;
let acme: string;
let home: string;

beforeAll(async () => {
  collector = await startCollector();
  const tarballs = temps.make('ib-rt-tarballs-');
  home = temps.make('ib-rt-home-');
  beacon = packBeacon(tarballs);
  acme = packAcme(tarballs, {
    installBeacon: { url: `${collector.base}/{name}/{version}?trigger={trigger}&pm={pm}`, delivery: 'inline' },
    main: REPORTING_MAIN,
  });
}, 120_000);
afterAll(async () => {
  await collector.close();
  temps.cleanup();
});
beforeEach(() => {
  collector.requests.length = 0;
});

const env = (extra: Record<string, string | undefined> = {}) => baseEnv(home, { npm_config_cache: join(home, 'npm-cache'), ...extra });
const npm = (cwd: string, args: string[], extra: Record<string, string | undefined> = {}) => npmLocal(cwd, args, home, extra);
const node = (cwd: string, code: string, extra: Record<string, string | undefined> = {}) => run(process.execPath, ['-e', code], { cwd, env: env(extra), timeoutMs: 30_000 });
// Nothing more can arrive once every sender started for the collector has exited.
const settle = () => collector.settled();

async function installed(scripts: boolean): Promise<string> {
  const app = join(temps.make('ib-rt-app-'), 'app');
  writeProject(app);
  const r = await npm(app, ['install', ...(scripts ? [] : ['--ignore-scripts']), beacon, acme]);
  expect(r.code).toBe(0);
  return app;
}

describe('reportInstall in real processes', () => {
  it('after an --ignore-scripts install: one event (trigger=runtime), then none from later processes', async () => {
    const app = await installed(false);
    const first = await node(app, "require('acme-lib')");
    expect(first).toMatchObject({ code: 0, stdout: '', stderr: '' });
    await collector.waitFor(1);
    expect(collector.requests.map((q) => q.query)).toEqual([{ trigger: 'runtime', pm: 'npm' }]);
    await node(app, "require('acme-lib'); delete require.cache[require.resolve('acme-lib')]; require('acme-lib')");
    await settle();
    expect(collector.requests).toHaveLength(1);
    // npm rebuild runs the postinstall: the install has already reported.
    expect((await npm(app, ['rebuild'])).code).toBe(0);
    await settle();
    expect(collector.requests).toHaveLength(1);
  });

  it('8 processes starting at once on a fresh install: exactly one event', async () => {
    const app = await installed(false);
    await Promise.all(Array.from({ length: 8 }, () => node(app, "require('acme-lib')")));
    await collector.waitFor(1);
    await settle();
    expect(collector.requests).toHaveLength(1);
  });

  it('worker threads and a second require in one process: one event', async () => {
    const app = await installed(false);
    const code = `
      const { Worker } = require('worker_threads');
      require('acme-lib'); require('acme-lib');
      for (let i = 0; i < 4; i++) new Worker("require('acme-lib')", { eval: true });`;
    expect((await node(app, code)).code).toBe(0);
    await collector.waitFor(1);
    await settle();
    expect(collector.requests).toHaveLength(1);
  });

  it('a normal install with scripts, then require: one event in all, from the postinstall', async () => {
    const app = await installed(true);
    await collector.waitFor(1);
    await node(app, "require('acme-lib')");
    await settle();
    expect(collector.requests.map((q) => q.query.trigger)).toEqual(['postinstall']);
  });

  it('DO_NOT_TRACK is checked afresh every time, never remembered as reported', async () => {
    const app = await installed(false);
    await node(app, "require('acme-lib')", { DO_NOT_TRACK: '1' });
    await settle();
    expect(collector.requests).toHaveLength(0);
    await node(app, "require('acme-lib')");
    await collector.waitFor(1);
    expect(collector.requests).toHaveLength(1);
  });

  it('a program that exits at once loses nothing: the next run reports', async () => {
    const app = await installed(false);
    await node(app, "require('acme-lib'); process.exit(0)");
    await settle();
    expect(collector.requests).toHaveLength(0);
    await node(app, "require('acme-lib')");
    await collector.waitFor(1);
    expect(collector.requests).toHaveLength(1);
  });

  it('from ESM with import.meta.url (a file: URL)', async () => {
    const app = await installed(false);
    // An ES module of the installed package reports with its own import.meta.url.
    const esm = join(app, 'node_modules', 'acme-lib', 'esm.mjs');
    writeFileSync(esm, "import { reportInstall } from 'install-beacon';\nexport const seen = import.meta.url;\nreportInstall(import.meta.url);\n");
    writeFileSync(join(app, 'main.mjs'), "import { seen } from 'acme-lib/esm.mjs';\nconsole.log(seen);\n");
    const r = await run(process.execPath, ['main.mjs'], { cwd: app, env: env(), timeoutMs: 30_000 });
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout.trim()).toBe(pathToFileURL(esm).href);
    await collector.waitFor(1);
    await settle();
    expect(collector.requests.map((q) => q.segments)).toEqual([['acme-lib', '2.3.4']]);
  });

  it("does nothing in the author's own repo", async () => {
    const repo = temps.make('ib-rt-repo-');
    writeFileSync(join(repo, 'package.json'), JSON.stringify({ name: 'acme-lib', version: '1.0.0', installBeacon: { url: `${collector.base}/x` } }));
    const app = await installed(false);
    const r = await node(repo, `require(${JSON.stringify(join(app, 'node_modules', 'install-beacon'))}).reportInstall(${JSON.stringify(join(repo, 'index.js'))})`);
    expect(r).toMatchObject({ code: 0, stdout: '', stderr: '' });
    await settle();
    expect(collector.requests).toHaveLength(0);
  });
});
