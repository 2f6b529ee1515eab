import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startRegistry, type Registry } from './matrix/registry.js';
import { startCollector, type Collector } from './support/collector.js';
import { packAcme, packBeacon, REPORTING_MAIN } from './support/fixture.js';
import { baseEnv, run, type RunResult, sendersDone, TempDirs } from './support/process.js';
import { needs } from './support/tools.js';

// {direct} with pnpm 10 (its .pnpm store), yarn 4 PnP (its defaults: the
// global cache), yarn 1, bun 1.4 and deno 2.9. They use the real tools the
// matrix caches (~/.cache/install-beacon-matrix, filled by `npm run
// test:matrix`); without them these cases are skipped and say so. Packages come
// from local tarballs (file: specs) and the registry is a dead loopback port,
// except for deno, which installs only from a registry: the matrix's local
// verdaccio (no uplinks) on 127.0.0.1.

const CACHE = process.env.INSTALL_BEACON_MATRIX_CACHE || join(homedir(), '.cache', 'install-beacon-matrix');
const PNPM = join(CACHE, 'pnpm@10.34.9', 'node_modules', 'pnpm', 'bin', 'pnpm.cjs');
const YARN = join(CACHE, '@yarnpkg+cli-dist@4.18.1', 'node_modules', '@yarnpkg', 'cli-dist', 'bin', 'yarn.js');
const YARN1 = join(CACHE, 'yarn@1.22.22', 'node_modules', 'yarn', 'bin', 'yarn.js');
const BUN = join(CACHE, 'bun@1.4.5', 'node_modules', '.bin', 'bun');
// The real file: Deno matches --allow-run=<path> against Deno.execPath(), symlinks unresolved.
const DENO = join(CACHE, 'deno@2.9.6', 'node_modules', 'deno', 'deno');
const VERDACCIO = join(CACHE, 'verdaccio@6.7.4', 'node_modules', 'verdaccio');
const withDeno = existsSync(DENO) && existsSync(join(VERDACCIO, 'bin', 'verdaccio'));
const DEAD = 'http://127.0.0.1:9/';

const temps = new TempDirs();
let collector: Collector;
let tarballs: string;
let acme: string;
let midA: string;
/** Issue 19 item 11: acme-lib at 2.3.5 (mid-a then nests its own 2.3.4), and a package listing acme-lib only in devDependencies. */
let acme235: string;
let devOnly: string;

// Every postinstall case installs acme-lib (inline delivery) and its twin acme-bg (background delivery,
// what "auto" means outside CI and containers) side by side, and mid-a and mid-b, which pull them in.
// With background delivery the hook leaves {direct}, {libc} and {libc_version} to the detached sender,
// which computes them after the hook has exited, later, from the file-system root, with the hook's
// environment: both must report the same. After each command the case waits for the senders (by PID).
const DELIVERIES = ['inline', 'background'] as const;
type Delivery = (typeof DELIVERIES)[number];
/** Per delivery: the package, the same at 1.0.0, and the package that depends on it. */
interface Fixtures {
  name: string;
  mid: string;
  acme: string;
  acme1: string;
  midA: string;
}
const fx = {} as Record<Delivery, Fixtures>;
const NAMES: Record<Delivery, [string, string]> = { inline: ['acme-lib', 'mid-a'], background: ['acme-bg', 'mid-b'] };
const MAIN = REPORTING_MAIN;
const configOf = (delivery: Delivery) => ({
  url: `${collector.base}/{name}/{version}?direct={direct}&trigger={trigger}&pm={pm}&libc={libc}&libc_version={libc_version}`,
  delivery,
});
/** What `pick` gives for each delivery, merged: both packages in one install. */
const twins = <T extends Record<string, unknown>>(pick: (f: Fixtures) => T): T => Object.assign({}, ...DELIVERIES.map((d) => pick(fx[d])));

beforeAll(async () => {
  if (![PNPM, YARN, YARN1, BUN].some((tool) => existsSync(tool)) && !withDeno) return;
  collector = await startCollector();
  tarballs = temps.make('ib-dpm-tarballs-');
  const beacon = packBeacon(tarballs);
  for (const delivery of DELIVERIES) {
    const [name, mid] = NAMES[delivery];
    const acmeTgz = packAcme(tarballs, { name, installBeacon: configOf(delivery), extra: { dependencies: { 'install-beacon': `file:${beacon}` } }, main: MAIN });
    fx[delivery] = {
      name,
      mid,
      acme: acmeTgz,
      // The same package at another version: a project asking for 1.x while mid-a pulls in 2.3.4.
      acme1: packAcme(tarballs, { name, version: '1.0.0', installBeacon: configOf(delivery), extra: { dependencies: { 'install-beacon': `file:${beacon}` } } }),
      midA: packAcme(tarballs, { name: mid, version: '1.0.0', postinstall: 'exit 0', extra: { dependencies: { [name]: `file:${acmeTgz}` } }, main: `module.exports = require('${name}');\n` }),
    };
  }
  ({ acme, midA } = fx.inline);
  acme235 = packAcme(tarballs, { version: '2.3.5', installBeacon: configOf('inline'), extra: { dependencies: { 'install-beacon': `file:${beacon}` } } });
  devOnly = packAcme(tarballs, { name: 'dev-only', version: '1.0.0', postinstall: 'exit 0', extra: { dependencies: {}, devDependencies: { 'acme-lib': '^2' } } });
}, 120_000);
afterAll(async () => {
  await collector?.close();
  temps.cleanup();
});
const libcSeen = new Set<string>();
beforeEach(() => {
  if (collector) collector.requests.length = 0;
  libcSeen.clear();
});

/** acme-lib's events, and acme-bg's marked "(background)". */
const events = () =>
  collector.requests
    .filter((q) => q.segments[0] === 'acme-lib' || q.segments[0] === 'acme-bg')
    .map((q) => `${q.query.pm} ${q.query.trigger}${q.segments[1] === '2.3.4' ? '' : ` ${q.segments[1]}`} direct=${q.query.direct}${q.segments[0] === 'acme-bg' ? ' (background)' : ''}`);
/** The event from each delivery. */
const both = (event: string) => [event, `${event} (background)`];

/**
 * After a command: wait until every background sender has exited (bounded, by PID), then take the
 * events since the last step, sorted (the inline hook's and the sender's may come in either order).
 */
async function step(): Promise<string[]> {
  await sendersDone(String(collector.port));
  for (const q of collector.requests) libcSeen.add(`${q.query.libc} ${q.query.libc_version}`);
  const seen = events().sort();
  collector.requests.length = 0;
  return seen;
}
/** {libc} {libc_version}: the C library Node runs on here, computed inline or by the sender. */
const LIBC = process.platform !== 'linux' ? 'none none' : `glibc ${/^ldd .* (\d+\.\d+)$/m.exec(execFileSync('ldd', ['--version'], { encoding: 'utf8' }))?.[1] ?? 'not glibc'}`;

function ok(r: RunResult): void {
  expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
}


async function programRun(dir: string, home: string, module: string, viaYarn = false): Promise<void> {
  const code = `require(${JSON.stringify(module)})`;
  const r = viaYarn
    ? await run(process.execPath, [YARN, 'node', '-e', code], { cwd: dir, env: baseEnv(home), timeoutMs: 60_000 })
    : await run(process.execPath, ['-e', code], { cwd: dir, env: baseEnv(home), timeoutMs: 60_000 });
  ok(r);
  await sendersDone(String(collector.port));
}

describe.skipIf(!existsSync(PNPM))(`{direct} with pnpm 10 (the .pnpm store)${needs(PNPM)}`, () => {
  const pnpm = (dir: string, home: string, args: string[]) =>
    run(process.execPath, [PNPM, ...args, `--registry=${DEAD}`, `--store-dir=${join(home, 'store')}`], { cwd: dir, env: baseEnv(home), timeoutMs: 120_000 });
  // Allow both builds, as the README tells pnpm users (a file: package is also named with its spec).
  const allow = (dir: string, ...tarball: Array<(f: Fixtures) => string>) =>
    `onlyBuiltDependencies:\n${DELIVERIES.flatMap((d) => [fx[d].name, ...tarball.map((t) => `"${fx[d].name}@file:${relative(dir, t(fx[d]))}"`)]).map((entry) => `  - ${entry}\n`).join('')}`;

  it('postinstall (inline and background delivery): pnpm add acme-lib is asked for; pnpm add mid-a pulls it in', async () => {
    const seen: string[][] = [];
    const asked = temps.project('ib-dpm-pa-', {});
    writeFileSync(join(asked.dir, 'pnpm-workspace.yaml'), allow(asked.dir, (f) => f.acme));
    ok(await pnpm(asked.dir, asked.home, ['add', fx.inline.acme, fx.background.acme]));
    seen.push(await step());
    const pulled = temps.project('ib-dpm-pp-', {});
    writeFileSync(join(pulled.dir, 'pnpm-workspace.yaml'), allow(pulled.dir, (f) => f.acme));
    ok(await pnpm(pulled.dir, pulled.home, ['add', fx.inline.midA, fx.background.midA]));
    seen.push(await step());
    // The project asks for acme-lib 1.0.0; mid-a's 2.3.4 sits beside it in the store.
    const mixed = temps.project('ib-dpm-pb-', { dependencies: twins((f) => ({ [f.name]: `file:${f.acme1}`, [f.mid]: `file:${f.midA}` })) });
    writeFileSync(join(mixed.dir, 'pnpm-workspace.yaml'), allow(mixed.dir, (f) => f.acme, (f) => f.acme1));
    ok(await pnpm(mixed.dir, mixed.home, ['install']));
    seen.push(await step());
    expect(seen).toEqual([both('pnpm postinstall direct=true'), both('pnpm postinstall direct=false'), [...both('pnpm postinstall 1.0.0 direct=true'), ...both('pnpm postinstall direct=false')]]);
    expect([...libcSeen]).toEqual([LIBC]);
  });

  it('reportInstall (builds not allowed, pnpm 10 default): asked for, and pulled in', async () => {
    const asked = temps.project('ib-dpm-ra-', {});
    ok(await pnpm(asked.dir, asked.home, ['add', acme]));
    const pulled = temps.project('ib-dpm-rp-', {});
    ok(await pnpm(pulled.dir, pulled.home, ['add', midA]));
    expect(events()).toEqual([]);
    await programRun(asked.dir, asked.home, 'acme-lib');
    await programRun(pulled.dir, pulled.home, 'mid-a');
    expect(events()).toEqual(['pnpm runtime direct=true', 'pnpm runtime direct=false']);
  });
});

describe.skipIf(!existsSync(YARN))(`{direct} with yarn 4: PnP with its defaults (the global cache), and node-modules${needs(YARN)}`, () => {
  const yarnrc = `nodeLinker: pnp\nnpmRegistryServer: "${DEAD.replace(/\/$/, '')}"\nenableTelemetry: false\n`;
  const yarn = (dir: string, home: string, args: string[]) => run(process.execPath, [YARN, ...args], { cwd: dir, env: baseEnv(home), timeoutMs: 120_000 });
  const nm = yarnrc.replace('nodeLinker: pnp', 'nodeLinker: node-modules');
  // Allow both builds, as docs/compatibility.md tells yarn 4 users.
  const built = () => ({ dependenciesMeta: twins((f) => ({ [f.name]: { built: true } })) });

  it('postinstall (inline and background delivery; dependenciesMeta built): asked for, and pulled in', async () => {
    const seen: string[][] = [];
    for (const [prefix, deps] of [
      ['ib-dpm-ya-', twins((f) => ({ [f.name]: `file:${f.acme}` }))],
      ['ib-dpm-yp-', twins((f) => ({ [f.mid]: `file:${f.midA}` }))],
      // The project asks for acme-lib 1.0.0; mid-a's 2.3.4 is pulled in. (The manifest alone would call both asked for: the PnP API tells them apart.)
      ['ib-dpm-yb-', twins((f) => ({ [f.name]: `file:${f.acme1}`, [f.mid]: `file:${f.midA}` }))],
    ] as const) {
      const p = temps.project(prefix, { dependencies: deps, ...built() }, { '.yarnrc.yml': yarnrc, 'yarn.lock': '' });
      ok(await yarn(p.dir, p.home, ['install']));
      seen.push(await step());
    }
    expect(seen).toEqual([both('yarn postinstall direct=true'), both('yarn postinstall direct=false'), [...both('yarn postinstall 1.0.0 direct=true'), ...both('yarn postinstall direct=false')]]);
    expect([...libcSeen]).toEqual([LIBC]);
  });

  it('nodeLinker node-modules, yarn add (inline and background delivery; built): asked for, and pulled in', async () => {
    const seen: string[][] = [];
    for (const [prefix, specs] of [
      ['ib-dpm-yna-', DELIVERIES.map((d) => `${fx[d].name}@file:${fx[d].acme}`)],
      ['ib-dpm-ynp-', DELIVERIES.map((d) => `${fx[d].mid}@file:${fx[d].midA}`)],
    ] as const) {
      const p = temps.project(prefix, built(), { '.yarnrc.yml': nm, 'yarn.lock': '' });
      ok(await yarn(p.dir, p.home, ['add', ...specs]));
      seen.push(await step());
    }
    expect(seen).toEqual([both('yarn postinstall direct=true'), both('yarn postinstall direct=false')]);
    expect([...libcSeen]).toEqual([LIBC]);
  });

  it('nodeLinker node-modules: reportInstall after a skip-build install: pulled in', async () => {
    const later = temps.project('ib-dpm-ynr-', { dependencies: { 'mid-a': `file:${midA}` } }, { '.yarnrc.yml': nm, 'yarn.lock': '' });
    ok(await yarn(later.dir, later.home, ['install', '--mode=skip-build']));
    await programRun(later.dir, later.home, 'mid-a');
    expect(events()).toEqual(['yarn runtime direct=false']);
  });

  it('reportInstall (yarn node): asked for, and pulled in', async () => {
    const asked = temps.project('ib-dpm-yra-', { dependencies: { 'acme-lib': `file:${acme}` } }, { '.yarnrc.yml': yarnrc, 'yarn.lock': '' });
    ok(await yarn(asked.dir, asked.home, ['install', '--mode=skip-build']));
    const pulled = temps.project('ib-dpm-yrp-', { dependencies: { 'mid-a': `file:${midA}` } }, { '.yarnrc.yml': yarnrc, 'yarn.lock': '' });
    ok(await yarn(pulled.dir, pulled.home, ['install', '--mode=skip-build']));
    expect(events()).toEqual([]);
    await programRun(asked.dir, asked.home, 'acme-lib', true);
    await programRun(pulled.dir, pulled.home, 'mid-a', true);
    expect(events()).toEqual(['yarn runtime direct=true', 'yarn runtime direct=false']);
  });
});

describe.skipIf(!existsSync(BUN))(`{direct} with bun 1.4 (hoisted)${needs(BUN)}`, () => {
  const bun = (dir: string, home: string, args: string[]) => run(BUN, [...args, `--registry=${DEAD}`], { cwd: dir, env: baseEnv(home), timeoutMs: 120_000 });

  it('bun add acme-lib (trusted; inline and background delivery): asked for, by its postinstall; bun add mid-a: pulled in, by reportInstall on a program run', async () => {
    const asked = temps.project('ib-dpm-ba-', { trustedDependencies: DELIVERIES.map((d) => NAMES[d][0]) });
    ok(await bun(asked.dir, asked.home, ['add', fx.inline.acme, fx.background.acme]));
    expect(await step()).toEqual(both('bun postinstall direct=true'));
    const pulled = temps.project('ib-dpm-bp-', {});
    ok(await bun(pulled.dir, pulled.home, ['add', midA]));
    await programRun(pulled.dir, pulled.home, 'mid-a');
    expect(await step()).toEqual(['bun runtime direct=false']);
    expect([...libcSeen]).toEqual([LIBC]);
  });

  it('bun add acme-lib dev-only (dev-only lists it only in devDependencies), and acme-lib@2.3.5 mid-a (mid-a nests its own 2.3.4): the top-level copy is asked for', async () => {
    const seen: string[][] = [];
    for (const [prefix, tgz] of [['ib-dpm-bd-', [acme, devOnly]], ['ib-dpm-bn-', [acme235, midA]]] as const) {
      const p = temps.project(prefix, { trustedDependencies: ['acme-lib'] });
      ok(await bun(p.dir, p.home, ['add', ...tgz]));
      seen.push(await step());
    }
    expect(seen).toEqual([['bun postinstall direct=true'], ['bun postinstall 2.3.5 direct=true']]);
  });
});

describe.skipIf(!existsSync(YARN1))(`{direct} with yarn 1${needs(YARN1)}`, () => {
  const yarn1 = (dir: string, home: string, args: string[]) =>
    run(process.execPath, [YARN1, ...args, '--registry', DEAD, '--cache-folder', join(home, 'yarn-cache')], { cwd: dir, env: baseEnv(home), timeoutMs: 120_000 });

  it('yarn add (inline and background delivery): asked for, and pulled in, by the postinstall', async () => {
    const asked = temps.project('ib-dpm-1a-', {});
    ok(await yarn1(asked.dir, asked.home, ['add', ...DELIVERIES.map((d) => `file:${fx[d].acme}`)]));
    expect(await step()).toEqual(both('yarn postinstall direct=true'));
    const pulled = temps.project('ib-dpm-1p-', {});
    ok(await yarn1(pulled.dir, pulled.home, ['add', ...DELIVERIES.map((d) => `file:${fx[d].midA}`)]));
    expect(await step()).toEqual(both('yarn postinstall direct=false'));
    expect([...libcSeen]).toEqual([LIBC]);
  });

  it('yarn add --ignore-scripts: asked for, and pulled in, by reportInstall', async () => {
    const asked = temps.project('ib-dpm-1a-', {});
    ok(await yarn1(asked.dir, asked.home, ['add', `file:${acme}`, '--ignore-scripts']));
    const pulled = temps.project('ib-dpm-1p-', {});
    ok(await yarn1(pulled.dir, pulled.home, ['add', `file:${midA}`, '--ignore-scripts']));
    await programRun(asked.dir, asked.home, 'acme-lib');
    await programRun(pulled.dir, pulled.home, 'mid-a');
    expect(events()).toEqual(['yarn runtime direct=true', 'yarn runtime direct=false']);
  });

  it('yarn add acme-lib dev-only (dev-only lists it only in devDependencies), and acme-lib@2.3.5 mid-a (mid-a nests its own 2.3.4): the top-level copy is asked for', async () => {
    const seen: string[][] = [];
    for (const [prefix, tgz] of [['ib-dpm-1d-', [acme, devOnly]], ['ib-dpm-1n-', [acme235, midA]]] as const) {
      const p = temps.project(prefix, {});
      ok(await yarn1(p.dir, p.home, ['add', ...tgz.map((t) => `file:${t}`)]));
      seen.push(await step());
    }
    expect(seen).toEqual([['yarn postinstall direct=true'], ['yarn postinstall 2.3.5 direct=true', 'yarn postinstall direct=false']]);
  });
});

describe.skipIf(!withDeno)(`{direct} with deno 2.9 (its node_modules/.deno store, and its own npm cache)${needs(DENO, join(VERDACCIO, 'bin', 'verdaccio'))}`, () => {
  let registry: Registry;
  beforeAll(async () => {
    const work = temps.make('ib-dpm-deno-registry-');
    registry = await startRegistry({ name: 'verdaccio', version: '6.7.4', pkgDir: VERDACCIO, binDir: join(VERDACCIO, '..', '.bin') }, process.execPath, work);
    // Published packages depend on each other by version: install-beacon ^1.0.0 (packAcme's default), acme-lib ^2.3.4.
    const dest = temps.make('ib-dpm-deno-tarballs-');
    await registry.publish(packBeacon(dest), work);
    for (const delivery of DELIVERIES) {
      const [name, mid] = NAMES[delivery];
      const installBeacon = configOf(delivery);
      for (const tgz of [
        // 1.0.0 first: npm publish tags a lower version than the latest only when told to.
        packAcme(dest, { name, version: '1.0.0', installBeacon, main: MAIN }),
        // Each with a bin (its main module), for `deno run npm:acme-lib` and `deno run npm:mid-a`.
        packAcme(dest, { name, installBeacon, main: MAIN, extra: { bin: { [name]: 'index.js' } } }),
        packAcme(dest, { name: mid, version: '1.0.0', postinstall: 'exit 0', extra: { dependencies: { [name]: '^2.3.4' }, bin: { [mid]: 'index.js' } }, main: `module.exports = require('${name}');\n` }),
      ])
        await registry.publish(tgz, work);
    }
  }, 120_000);
  afterAll(async () => {
    await registry?.stop();
  });

  // A fresh DENO_DIR per project (in its own HOME): no cache, and no marker in one, is shared between cases.
  // The age gate (24 h by default) would refuse the fixtures published a moment ago, as the matrix says.
  const deno = (dir: string, home: string, args: string[]) =>
    run(DENO, [...args.slice(0, 1), '--minimum-dependency-age=0', ...args.slice(1)], {
      cwd: dir,
      env: baseEnv(home, { DENO_DIR: join(home, 'deno'), DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1', NPM_CONFIG_REGISTRY: registry.url }),
      timeoutMs: 120_000,
    });
  // The README's grants for a program run by Deno (test/matrix/main.ts: denoGrants).
  const grants = ['--allow-env', '--allow-read', '--allow-write=node_modules/.install-beacon', `--allow-run=${DENO}`];
  const ALLOW = `--allow-scripts=${DELIVERIES.map((d) => `npm:${NAMES[d][0]}`).join(',')}`;
  const listed = (dir: string) => readFileSync(join(dir, 'package.json'), 'utf8');
  /** Exactly `n` events after the commands above (bounded wait), and no more once every sender is done. */
  const settle = async (n: number) => {
    await collector.waitFor(n, 15_000).catch(() => undefined);
    await collector.settled();
  };

  it('postinstall (inline and background delivery): deno add npm:acme-lib (writes package.json) is asked for; deno add npm:mid-a pulls it in', async () => {
    const asked = temps.project('ib-dpm-da-', {});
    ok(await deno(asked.dir, asked.home, ['add', ALLOW, ...DELIVERIES.map((d) => `npm:${fx[d].name}`)]));
    await settle(2);
    expect(await step()).toEqual(both('deno postinstall direct=true'));
    const pulled = temps.project('ib-dpm-dp-', {});
    ok(await deno(pulled.dir, pulled.home, ['add', ALLOW, ...DELIVERIES.map((d) => `npm:${fx[d].mid}`)]));
    await settle(2);
    expect(await step()).toEqual(both('deno postinstall direct=false'));
    expect([...libcSeen]).toEqual([LIBC]);
    // With a package.json, deno add writes the dependencies there, and installs into node_modules/.deno.
    expect(JSON.parse(listed(asked.dir)).dependencies).toEqual({ 'acme-bg': '^2.3.4', 'acme-lib': '^2.3.4' });
    expect(existsSync(join(asked.dir, 'deno.json'))).toBe(false);
    expect(realpathSync(join(asked.dir, 'node_modules', 'acme-lib'))).toBe(realpathSync(join(asked.dir, 'node_modules', '.deno', 'acme-lib@2.3.4', 'node_modules', 'acme-lib')));
  });

  it('postinstall (inline and background delivery): deno install of an existing package.json, and of a deno.json beside one', async () => {
    // Each project's events on their own: a project's postinstalls may come in either order.
    const seen: string[][] = [];
    for (const [prefix, pkg, files, n] of [
      ['ib-dpm-di-', { dependencies: twins((f) => ({ [f.name]: '^2' })) }, {}, 2],
      // The project asks for acme-lib 1.x; mid-a's 2.3.4 sits beside it in the store.
      ['ib-dpm-db-', { dependencies: twins((f) => ({ [f.name]: '^1', [f.mid]: '^1' })) }, {}, 4],
      // deno.json imports beside a package.json (so a node_modules dir): the same store.
      ['ib-dpm-dj-', {}, { 'deno.json': JSON.stringify({ imports: twins((f) => ({ [f.name]: `npm:${f.name}@^2` })) }) }, 2],
      ['ib-dpm-djm-', {}, { 'deno.json': JSON.stringify({ imports: twins((f) => ({ [f.mid]: `npm:${f.mid}@^1` })) }) }, 2],
    ] as const) {
      const p = temps.project(prefix, pkg, files);
      ok(await deno(p.dir, p.home, ['install', ALLOW]));
      expect(existsSync(join(p.dir, 'node_modules', '.deno', 'acme-lib@2.3.4'))).toBe(true);
      await settle(n);
      seen.push(await step());
    }
    expect(seen).toEqual([
      both('deno postinstall direct=true'),
      [...both('deno postinstall 1.0.0 direct=true'), ...both('deno postinstall direct=false')],
      both('deno postinstall direct=true'),
      both('deno postinstall direct=false'),
    ]);
    expect([...libcSeen]).toEqual([LIBC]);
  });

  it('reportInstall (deno run with the README grants; scripts not allowed, deno\'s default): asked for, and pulled in', async () => {
    const asked = temps.project('ib-dpm-dra-', {}, { 'main.mjs': "import 'acme-lib';\n" });
    ok(await deno(asked.dir, asked.home, ['add', 'npm:acme-lib']));
    const pulled = temps.project('ib-dpm-drp-', {}, { 'main.mjs': "import 'mid-a';\n" });
    ok(await deno(pulled.dir, pulled.home, ['add', 'npm:mid-a']));
    await collector.settled();
    expect(events()).toEqual([]);
    for (const p of [asked, pulled]) ok(await deno(p.dir, p.home, ['run', ...grants, 'main.mjs']));
    await settle(2);
    expect(events()).toEqual(['deno runtime direct=true', 'deno runtime direct=false']);
  });

  it("reportInstall in Deno's own npm cache (no node_modules): a deno.json import, the script's own npm: import, or deno run npm:x is asked for", async () => {
    const script = (prefix: string, files: Record<string, string>) => {
      const p = temps.project(prefix, {}, files);
      rmSync(join(p.dir, 'package.json'));
      return p;
    };
    const runs: Array<[ReturnType<TempDirs["project"]>, string]> = [
      [script('ib-dpm-dca-', { 'spec.mjs': "import 'npm:acme-lib';\n" }), 'spec.mjs'],
      [script('ib-dpm-dcp-', { 'spec.mjs': "import 'npm:mid-a';\n" }), 'spec.mjs'],
      [script('ib-dpm-dcj-', { 'deno.json': JSON.stringify({ imports: { 'acme-lib': 'npm:acme-lib@^2' } }), 'main.mjs': "import 'acme-lib';\n" }), 'main.mjs'],
      [script('ib-dpm-dcm-', { 'deno.json': JSON.stringify({ imports: { 'mid-a': 'npm:mid-a@^1' } }), 'main.mjs': "import 'mid-a';\n" }), 'main.mjs'],
      // The project asks for acme-lib 1.x (deno.lock's specifiers say so); mid-a's 2.3.4 is pulled in.
      [script('ib-dpm-dcb-', { 'deno.json': JSON.stringify({ imports: { 'acme-lib': 'npm:acme-lib@^1', 'mid-a': 'npm:mid-a@^1' } }), 'main.mjs': "import 'acme-lib';\nimport 'mid-a';\n" }), 'main.mjs'],
    ];
    // `deno run npm:x` (as npx x): x is asked for, its dependencies are pulled in.
    runs.push([script('ib-dpm-dcx-', {}), 'npm:acme-lib'], [script('ib-dpm-dcy-', {}), 'npm:mid-a']);
    const seen: string[][] = [];
    for (const [i, [p, main]] of runs.entries()) {
      collector.requests.length = 0;
      // -A: the marker lives in the cache (DENO_DIR/npm/<registry>/.install-beacon), outside the README's node_modules grant.
      ok(await deno(p.dir, p.home, ['run', '-A', main]));
      expect(existsSync(join(p.dir, 'node_modules'))).toBe(false);
      await settle(i === 4 ? 2 : 1);
      seen.push(events().sort());
    }
    expect(seen).toEqual([
      ['deno runtime direct=true'],
      ['deno runtime direct=false'],
      ['deno runtime direct=true'],
      ['deno runtime direct=false'],
      ['deno runtime 1.0.0 direct=true', 'deno runtime direct=false'],
      ['deno runtime direct=true'],
      ['deno runtime direct=false'],
    ]);
  });
});
