import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { npmLocal, packAcme, packBeacon } from './support/fixture.js';
import { baseEnv, run, TempDirs } from './support/process.js';

// The commands as a user reaches them from a real install: `npx install-beacon ...`
// in a project that installed acme-lib (which depends on install-beacon), and the
// command the README gives pnpm users, whose tree links no bin for a dependency's
// dependency.

const CACHE = process.env.INSTALL_BEACON_MATRIX_CACHE || join(homedir(), '.cache', 'install-beacon-matrix');
const PNPM = join(CACHE, 'pnpm@10.34.9', 'node_modules', 'pnpm', 'bin', 'pnpm.cjs');
const DEAD = 'http://127.0.0.1:9/';

const temps = new TempDirs();
let acme: string;

beforeAll(() => {
  const tarballs = temps.make('ib-npx-tarballs-');
  const beacon = packBeacon(tarballs);
  acme = packAcme(tarballs, { installBeacon: { url: 'https://e.com/{name}' }, extra: { dependencies: { 'install-beacon': `file:${beacon}` } } });
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
