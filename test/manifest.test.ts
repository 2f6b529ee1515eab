import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { npmArgv, packAcme } from './support/fixture.js';
import { baseEnv, ROOT, run, TempDirs } from './support/process.js';
import { needs } from './support/tools.js';

// The package.json that ships (scripts/manifest.mjs): only what a user's install
// needs. Packed the way an author releases, by a real `npm pack` with its
// prepack and postpack, in a copy of this repository (the swap must not happen
// under the other test files' feet), then installed by a real yarn 1.

const CACHE = process.env.INSTALL_BEACON_MATRIX_CACHE || join(homedir(), '.cache', 'install-beacon-matrix');
const YARN1 = join(CACHE, 'yarn@1.22.22', 'node_modules', 'yarn', 'bin', 'yarn.js');
const DEAD = 'http://127.0.0.1:9/';

const temps = new TempDirs();
let repo: string;
let tarball: string;
let before: string;

beforeAll(() => {
  repo = join(temps.make('ib-manifest-'), 'repo');
  for (const f of ['package.json', 'README.md', 'LICENSE', 'scripts', 'src', 'collector/package.json']) cpSync(join(ROOT, f), join(repo, f), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(repo, 'node_modules'));
  before = readFileSync(join(repo, 'package.json'), 'utf8');
  const dest = join(repo, '..', 'out');
  mkdirSync(dest);
  const out = execFileSync(...npmArgv(['pack', '--pack-destination', dest, '--silent']), { cwd: repo, encoding: 'utf8', env: baseEnv(join(repo, '..', 'home')) });
  tarball = join(dest, out.trim().split('\n').pop()!);
}, 120_000);
afterAll(() => temps.cleanup());

describe('npm pack ships the published package.json', () => {
  it('the tarball holds only the fields an install reads: no workspaces, devDependencies or scripts', () => {
    const shipped = JSON.parse(execFileSync('tar', ['-xOzf', tarball, 'package/package.json'], { encoding: 'utf8' })) as Record<string, unknown>;
    expect(Object.keys(shipped)).toEqual(['name', 'version', 'description', 'keywords', 'license', 'type', 'bin', 'main', 'module', 'types', 'exports', 'files', 'sideEffects', 'engines']);
    const dev = JSON.parse(before) as Record<string, unknown>;
    for (const k of Object.keys(shipped)) expect(shipped[k], k).toEqual(dev[k]);
  });

  it("the repository's package.json is restored byte for byte, and no copy is left beside it", () => {
    expect(readFileSync(join(repo, 'package.json'), 'utf8')).toBe(before);
    expect(existsSync(join(repo, '.package.dev.json'))).toBe(false);
  });

  it('npm publish of the folder is refused with the command to publish the tarball, before anything is sent', async () => {
    const r = await run(...npmArgv(['publish', `--registry=${DEAD}`]), { cwd: repo, env: baseEnv(join(repo, '..', 'home')), timeoutMs: 60_000 });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('install-beacon: publish the packed tarball, whose package.json the registry then shows: npm pack && npm publish install-beacon-<version>.tgz');
    expect(r.stderr).not.toContain('127.0.0.1:9');
    expect(readFileSync(join(repo, 'package.json'), 'utf8')).toBe(before);
  });
});

describe.skipIf(!existsSync(YARN1))(`yarn 1 installs a package that depends on it without a warning${needs(YARN1)}`, () => {
  it('yarn install of a project depending on acme-lib (which depends on install-beacon): no warning in stdout or stderr', async () => {
    const acme = packAcme(temps.make('ib-manifest-acme-'), { installBeacon: { url: 'https://e.com/{name}', enabled: false }, extra: { dependencies: { 'install-beacon': `file:${tarball}` }, license: 'MIT' } });
    const { dir, home } = temps.project('ib-manifest-y1-', { dependencies: { 'acme-lib': `file:${acme}` } });
    const r = await run(process.execPath, [YARN1, 'install', '--registry', DEAD, '--cache-folder', join(home, 'yarn-cache')], { cwd: dir, env: baseEnv(home), timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(`${r.stdout}${r.stderr}`).not.toMatch(/warning/i);
    expect(existsSync(join(dir, 'node_modules', 'install-beacon', 'dist', 'bin.cjs'))).toBe(true);
  });
});
