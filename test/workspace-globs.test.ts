import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isWorkspace } from '../src/layout.js';
import { npmArgv } from './support/fixture.js';
import { baseEnv, run, TempDirs } from './support/process.js';
import { needs } from './support/tools.js';

// The hook's workspace matcher (src/layout.ts) against the real managers'
// own listing of a monorepo's members, for each glob form (issue 19, item 2):
// npm 11 (`npm pkg get name --workspaces`, @npmcli/map-workspaces) from
// package.json "workspaces", and pnpm 10 (`pnpm ls -r`) from
// pnpm-workspace.yaml. No install, no network.

const CACHE = process.env.INSTALL_BEACON_MATRIX_CACHE || join(homedir(), '.cache', 'install-beacon-matrix');
const PNPM = join(CACHE, 'pnpm@10.34.9', 'node_modules', 'pnpm', 'bin', 'pnpm.cjs');
const FOLDERS = ['packages/app', 'packages/o', 'packages/b', 'packages/bd', 'packages/.hidden', 'packages/app/x', 'apps/z'];
const FORMS: string[][] = [
  ['packages/*'],
  ['packages/{app,o}'],
  ['packages/@(app|o)'],
  ['packages/[ao]*'],
  ['packages/[!a]*'],
  ['packages/!(o)'],
  ['packages/?(a)pp'],
  ['packages/**'],
  ['{packages,apps}/*'],
  ['packages/{a,b{c,d}}'],
  ['packages/*', '!packages/o'],
  ['./packages/a?p', 'apps/*/'],
];

// Where the managers disagree, the hook follows npm: pnpm's picomatch lets a negated class or
// extglob match a leading dot (measured with pnpm 10.34.9), npm's minimatch does not.
const PNPM_ALSO: Record<string, string[]> = { 'packages/[!a]*': ['packages/.hidden'], 'packages/!(o)': ['packages/.hidden'] };

const temps = new TempDirs();
afterAll(() => temps.cleanup());

function monorepo(): string {
  const root = temps.make('ib-wsg-');
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'root', version: '1.0.0', private: true }));
  for (const f of FOLDERS) {
    mkdirSync(join(root, f), { recursive: true });
    writeFileSync(join(root, f, 'package.json'), JSON.stringify({ name: f.replace(/[/.]/g, '-'), version: '1.0.0' }));
  }
  return root;
}
const ours = (patterns: string[]) => FOLDERS.filter((f) => isWorkspace(f, patterns)).sort();

describe('npm 11 lists the same workspace members as the hook', () => {
  it.each(FORMS.map((f) => [JSON.stringify(f), f] as const))('%s', async (_n, patterns) => {
    const root = monorepo();
    writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'root', version: '1.0.0', private: true, workspaces: patterns }));
    const r = await run(...npmArgv(['pkg', 'get', 'name', '--workspaces', '--json']), { cwd: root, env: baseEnv(join(root, '.home')), timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    const names = Object.keys(JSON.parse(r.stdout) as Record<string, unknown>);
    expect(FOLDERS.filter((f) => names.includes(f.replace(/[/.]/g, '-'))).sort()).toEqual(ours(patterns));
  });
});

describe.skipIf(!existsSync(PNPM))(`pnpm 10 lists the same workspace members as the hook${needs(PNPM)}`, () => {
  it.each(FORMS.map((f) => [JSON.stringify(f), f] as const))('%s', async (_n, patterns) => {
    const root = monorepo();
    writeFileSync(join(root, 'pnpm-workspace.yaml'), `packages:\n${patterns.map((p) => `  - '${p}'\n`).join('')}`);
    const r = await run(process.execPath, [PNPM, 'ls', '-r', '--depth', '-1', '--json'], { cwd: root, env: baseEnv(join(root, '.home')), timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    const dirs = (JSON.parse(r.stdout) as { path: string }[]).map((p) => relative(root, p.path)).filter(Boolean);
    expect(dirs.sort()).toEqual([...ours(patterns), ...(PNPM_ALSO[patterns.join()] ?? [])].sort());
  });
});
