import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { npmLocal, packAcme, packBeacon, REPORTING_MAIN } from './support/fixture.js';
import { baseEnv, run, TempDirs } from './support/process.js';
import { needs } from './support/tools.js';

// The commands as a user reaches them from a real install: `npx install-beacon ...`
// in a project that installed acme-lib (which depends on install-beacon), and the
// command the README gives pnpm users, whose tree links no bin for a dependency's
// dependency.

const CACHE = process.env.INSTALL_BEACON_MATRIX_CACHE || join(homedir(), '.cache', 'install-beacon-matrix');
const PNPM = join(CACHE, 'pnpm@10.34.9', 'node_modules', 'pnpm', 'bin', 'pnpm.cjs');
const YARN = join(CACHE, '@yarnpkg+cli-dist@4.18.1', 'node_modules', '@yarnpkg', 'cli-dist', 'bin', 'yarn.js');
const DEAD = 'http://127.0.0.1:9/';

const temps = new TempDirs();
let acme: string;

beforeAll(() => {
  const tarballs = temps.make('ib-npx-tarballs-');
  const beacon = packBeacon(tarballs);
  acme = packAcme(tarballs, { installBeacon: { url: 'http://127.0.0.1:9/{name}' }, extra: { dependencies: { 'install-beacon': `file:${beacon}` } }, main: REPORTING_MAIN });
}, 120_000);
afterAll(() => temps.cleanup());

describe('npx install-beacon in an npm project', () => {
  let dir: string;
  let home: string;
  beforeAll(async () => {
    ({ dir, home } = temps.project('ib-npx-npm-', { dependencies: { 'acme-lib': `file:${acme}` } }));
    const r = await npmLocal(dir, ['install', '--ignore-scripts'], home);
    expect(r.code, r.stderr).toBe(0);
  }, 120_000);
  const npx = (args: string[]) => run('npx', ['install-beacon', ...args], { cwd: dir, env: baseEnv(home, { npm_config_registry: DEAD, npm_config_cache: join(home, 'npm-cache') }), timeoutMs: 60_000 });

  // npx sets npm_lifecycle_event=npx: a mistyped command was taken for an install's script, exit 0 and silent.
  it.each([
    ['expalin', 'explain'],
    ['chek', 'check'],
    ['lisen', 'listen'],
    ['disabel', 'disable'],
  ])('npx install-beacon %s: unknown command, did you mean "%s", exit 2', async (typo, near) => {
    const r = await npx([typo]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n')[0]).toBe(`install-beacon: unknown command "${typo}" (did you mean "${near}"?)`);
  });

  it('npx install-beacon explain lists acme-lib', async () => {
    const r = await npx(['explain']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('acme-lib@2.3.4  node_modules/acme-lib');
  });
});

// README "See what would be sent": the commands given for pnpm and yarn 4, each with the manager's defaults.
describe.skipIf(!existsSync(PNPM))(`pnpm 10 (its defaults): the documented command${needs(PNPM)}`, () => {
  let dir: string;
  let home: string;
  beforeAll(async () => {
    ({ dir, home } = temps.project('ib-npx-pnpm-'));
    const r = await run(process.execPath, [PNPM, 'add', acme, `--registry=${DEAD}`, `--store-dir=${join(home, 'store')}`], { cwd: dir, env: baseEnv(home), timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
  }, 120_000);
  const sh = (line: string) => run('sh', ['-c', line], { cwd: dir, env: baseEnv(home, { npm_config_registry: DEAD, npm_config_cache: join(home, 'npm-cache') }), timeoutMs: 60_000 });

  it('npx install-beacon explain fails (no bin link for a dependency\'s dependency): why pnpm needs its own command', async () => {
    expect((await sh('npx install-beacon explain')).code).toBe(127);
  });

  it.each(['node_modules/.pnpm/node_modules/.bin/install-beacon explain', 'node node_modules/.pnpm/node_modules/install-beacon/dist/bin.cjs explain'])('%s lists acme-lib', async (line) => {
    const r = await sh(line);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^acme-lib@2\.3\.4  node_modules\/\.pnpm\/acme-lib@.*\/node_modules\/acme-lib$/m);
  });
});

describe.skipIf(!existsSync(YARN))(`yarn 4: the documented commands (PnP, its default, and node-modules)${needs(YARN)}`, () => {
  it('INSTALL_BEACON_DEBUG=1 yarn node -e "require(\'acme-lib\')" prints the decision and URL, and sends nothing', async () => {
    const { dir, home } = temps.project('ib-npx-yarn-', { dependencies: { 'acme-lib': `file:${acme}` } }, { '.yarnrc.yml': `npmRegistryServer: "${DEAD.replace(/\/$/, '')}"\nenableTelemetry: false\n`, 'yarn.lock': '' });
    const yarn = (args: string[], extra: Record<string, string> = {}) => run(process.execPath, [YARN, ...args], { cwd: dir, env: baseEnv(home, extra), timeoutMs: 120_000 });
    expect((await yarn(['install'])).code).toBe(0);
    const r = await yarn(['node', '-e', "require('acme-lib')"], { INSTALL_BEACON_DEBUG: '1' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('URL: http://127.0.0.1:9/acme-lib');
  });

  it('nodeLinker: node-modules: npx install-beacon explain lists acme-lib (yarn links the hoisted bin)', async () => {
    const { dir, home } = temps.project('ib-npx-yarnnm-', { dependencies: { 'acme-lib': `file:${acme}` } }, { '.yarnrc.yml': `nodeLinker: node-modules\nnpmRegistryServer: "${DEAD.replace(/\/$/, '')}"\nenableTelemetry: false\n`, 'yarn.lock': '' });
    expect((await run(process.execPath, [YARN, 'install'], { cwd: dir, env: baseEnv(home), timeoutMs: 120_000 })).code).toBe(0);
    const r = await run('npx', ['install-beacon', 'explain'], { cwd: dir, env: baseEnv(home, { npm_config_registry: DEAD, npm_config_cache: join(home, 'npm-cache') }), timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('acme-lib@2.3.4  node_modules/acme-lib');
  });
});
