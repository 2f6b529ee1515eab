import { describe, expect, it } from 'vitest';
import { ancestors, denoCacheDirOf, enclosingWorkspaceRoot, installSite, installTarget, isWorkspace, matchesWorkspace, packageDirOf, parentOf, workspacePatterns, type InstallSite } from '../src/layout.js';
import { MemFs } from './support/memfs.js';

// Where was this package installed? One table, every layout the package
// managers produce (paths as measured with npm 11, pnpm 10, yarn 1, yarn 4.18
// PnP and node-modules, bun 1.4; see shared research).

const GLOBAL_CACHE_PNP = '/work/app/.pnp.cjs';
const pnpFileFor = (p: string) => (p.startsWith('/root/.yarn/berry/cache/') || p.startsWith('/custom-cache/') ? GLOBAL_CACHE_PNP : p.startsWith('/rootproj-cache/') ? '/.pnp.cjs' : undefined);

type Row = [string, string, Partial<InstallSite> | undefined];
const rows: Row[] = [
  ['npm/yarn 1/bun, hoisted', '/app/node_modules/acme-lib', { kind: 'node_modules', treeRoot: '/app', projectRoot: '/app', markerDir: '/app/node_modules/.install-beacon' }],
  ['scoped', '/app/node_modules/@acme/lib', { treeRoot: '/app', markerDir: '/app/node_modules/.install-beacon' }],
  ['nested under a parent', '/app/node_modules/mid-a/node_modules/acme-lib', { treeRoot: '/app', projectRoot: '/app', markerDir: '/app/node_modules/.install-beacon' }],
  ['nested twice, scoped parent', '/app/node_modules/@x/mid/node_modules/y/node_modules/acme-lib', { treeRoot: '/app' }],
  ['pnpm store', '/app/node_modules/.pnpm/acme-lib@2.3.4/node_modules/acme-lib', { kind: 'pnpm', treeRoot: '/app', projectRoot: '/app', markerDir: '/app/node_modules/.install-beacon' }],
  ['pnpm store, scoped with peers', '/app/node_modules/.pnpm/@acme+lib@1.0.0_react@18.0.0/node_modules/@acme/lib', { kind: 'pnpm', treeRoot: '/app' }],
  ['npm -g prefix', '/usr/local/lib/node_modules/acme-lib', { treeRoot: '/usr/local/lib', projectRoot: '/usr/local/lib', markerDir: '/usr/local/lib/node_modules/.install-beacon' }],
  ['npx cache', '/root/.npm/_npx/1a2b/node_modules/acme-lib', { treeRoot: '/root/.npm/_npx/1a2b' }],
  ['pnpm -g', '/root/.local/share/pnpm/global/5/node_modules/.pnpm/acme-lib@2.3.4/node_modules/acme-lib', { kind: 'pnpm', treeRoot: '/root/.local/share/pnpm/global/5' }],
  ['yarn 1 global', '/root/.config/yarn/global/node_modules/acme-lib', { treeRoot: '/root/.config/yarn/global' }],
  ['bun -g', '/root/.bun/install/global/node_modules/acme-lib', { treeRoot: '/root/.bun/install/global' }],
  ['deno install (its store in node_modules/.deno)', '/app/node_modules/.deno/acme-lib@2.3.4/node_modules/acme-lib', { kind: 'node_modules', treeRoot: '/app', projectRoot: '/app', markerDir: '/app/node_modules/.install-beacon' }],
  ['an npm workspace member (hoisted into the root)', '/mono/node_modules/acme-lib', { treeRoot: '/mono', projectRoot: '/mono' }],
  ["a workspace member's own node_modules", '/mono/packages/web/node_modules/acme-lib', { treeRoot: '/mono/packages/web', projectRoot: '/mono/packages/web' }],
  ['node_modules at the file-system root', '/node_modules/acme-lib', { treeRoot: '/', projectRoot: '/', markerDir: '/node_modules/.install-beacon' }],
  ['Windows', 'C:\\app\\node_modules\\acme-lib', { treeRoot: 'C:\\app', markerDir: 'C:\\app/node_modules/.install-beacon' }],
  [
    'yarn PnP, unplugged',
    '/app/.yarn/unplugged/acme-lib-npm-2.3.4-abc/node_modules/acme-lib',
    { kind: 'yarn-pnp', treeRoot: '/app', projectRoot: '/app', markerDir: '/app/.yarn/.install-beacon', pnpFile: '/app/.pnp.cjs' },
  ],
  ['yarn PnP, project cache zip', '/app/.yarn/cache/acme-lib-npm-2.3.4-abc-1a.zip/node_modules/acme-lib', { kind: 'yarn-pnp', projectRoot: '/app', markerDir: '/app/.yarn/.install-beacon', pnpFile: '/app/.pnp.cjs' }],
  ['yarn PnP, virtual', '/app/.yarn/__virtual__/acme-lib-virtual-1/0/cache/x.zip/node_modules/acme-lib', { kind: 'yarn-pnp', projectRoot: '/app', markerDir: '/app/.yarn/.install-beacon' }],
  [
    'yarn PnP, yarn 4 global cache (the default): the project from the loaded .pnp.cjs',
    '/root/.yarn/berry/cache/acme-lib-npm-2.3.4-abc-10c0.zip/node_modules/acme-lib',
    { kind: 'yarn-global-cache', treeRoot: '/work/app', projectRoot: '/work/app', markerDir: '/work/app/.yarn/.install-beacon', pnpFile: GLOBAL_CACHE_PNP },
  ],
  ['yarn PnP, a custom cacheFolder outside the project', '/custom-cache/acme-lib-npm-2.3.4-abc-10c0.zip/node_modules/acme-lib', { kind: 'yarn-global-cache', projectRoot: '/work/app' }],
  ['a global-cache zip no loaded PnP runtime serves: no site (nothing is kept, nothing sent)', '/nowhere/.yarn/berry/cache/x.zip/node_modules/acme-lib', undefined],
  ["the author's own checkout", '/home/me/acme-lib', undefined],
  ['yarn PnP, a project at the file-system root', '/.yarn/unplugged/acme-lib-npm-2.3.4-abc/node_modules/acme-lib', { kind: 'yarn-pnp', treeRoot: '/', projectRoot: '/', markerDir: '/.yarn/.install-beacon', pnpFile: '/.pnp.cjs' }],
  ['yarn PnP global cache, the serving .pnp.cjs at the file-system root', '/rootproj-cache/acme-lib-npm-2.3.4-abc-10c0.zip/node_modules/acme-lib', { kind: 'yarn-global-cache', treeRoot: '/', projectRoot: '/', markerDir: '/.yarn/.install-beacon' }],
  ['a node_modules folder itself (a path in the tree)', '/app/node_modules', { kind: 'node_modules', treeRoot: '/app', markerDir: '/app/node_modules/.install-beacon' }],
];

describe('installSite: every layout', () => {
  it.each(rows)('%s: %s', (_name, pkgDir, expected) => {
    const site = installSite(pkgDir, { pnpFileFor });
    if (expected === undefined) expect(site).toBeUndefined();
    else expect(site).toMatchObject({ pkgDir, ...expected });
  });

  it('without a PnP probe, a global-cache zip has no site (HOME is never taken as the project)', () => {
    expect(installSite('/root/.yarn/berry/cache/x.zip/node_modules/acme-lib')).toBeUndefined();
  });

  it('every copy in one tree shares one marker folder', () => {
    const dirs = new Set(rows.slice(0, 4).map(([, p]) => installSite(p)!.markerDir));
    expect(dirs).toEqual(new Set(['/app/node_modules/.install-beacon']));
  });
});

describe("a shared pnpm store (issue 19 item 3): the project linking the package owns it", () => {
  // What pnpm 12 (enableGlobalVirtualStore) and pnpm 10 (virtual-store-dir) write, as measured.
  const GVS = '/home/u/.local/share/pnpm/store/v11/links/@/acme-lib/2.3.4/7abe26436fe93166f6c7f3413e0f0131cc30ca0315da941d04600c48f2b20251/node_modules/acme-lib';
  const files: Record<string, string> = {
    '/work/app/node_modules/.modules.yaml': '{\n  "storeDir": "/home/u/.local/share/pnpm/store/v11",\n  "virtualStoreDir": "../../../home/u/.local/share/pnpm/store/v11/links",\n  "layoutVersion": 5\n}',
    '/work/vsd/node_modules/.modules.yaml': '{\n  "virtualStoreDir": "../.pnpm-store-dir"\n}',
    '/work/other/node_modules/.modules.yaml': '{\n  "virtualStoreDir": ".pnpm"\n}',
  };
  const readJson = (p: string) => (files[p.replace(/\/\/+/g, '/')] ? JSON.parse(files[p.replace(/\/\/+/g, '/')]!) : undefined);
  const owned = (root: string) => ({ kind: 'pnpm', treeRoot: root, projectRoot: root, markerDir: `${root}/node_modules/.install-beacon` });
  it.each([
    ['global virtual store, in a pnpm install: INIT_CWD', GVS, '/work/app', undefined, owned('/work/app')],
    ["global virtual store, the hook's build folder (pnpm builds in node_modules/.pnpm-<hex>)", GVS.replace(/acme-lib$/, '.pnpm-180d39d2'), '/work/app', undefined, owned('/work/app')],
    ['global virtual store, at run time: the cwd whose .modules.yaml names the store', GVS, undefined, '/work/app', owned('/work/app')],
    ['global virtual store, at run time from a subfolder of the project', GVS, undefined, '/work/app/src/lib', owned('/work/app')],
    ['global virtual store, at run time from a project whose virtual store is its own: no site', GVS, undefined, '/work/other', undefined],
    ['global virtual store, at run time from no project: no site (the store is no tree)', GVS, undefined, '/tmp', undefined],
    ['virtualStoreDir outside node_modules, in a pnpm install: INIT_CWD', '/work/vsd/.pnpm-store-dir/acme-lib@2.3.4/node_modules/acme-lib', '/work/vsd', undefined, owned('/work/vsd')],
    ['virtualStoreDir outside node_modules, at run time from anywhere: the folder above it', '/work/vsd/.pnpm-store-dir/@acme+lib@1.0.0/node_modules/@acme/lib', undefined, '/', owned('/work/vsd')],
    ['a project folder named like a store entry, no pnpm: the path decides', '/work/app@2/node_modules/acme-lib', undefined, '/work/app@2', { kind: 'node_modules', treeRoot: '/work/app@2', markerDir: '/work/app@2/node_modules/.install-beacon' }],
  ] as const)('%s', (_why, pkgDir, init, cwd, expected) => {
    const site = installSite(pkgDir, { readJson }, init, cwd);
    if (expected === undefined) expect(site).toBeUndefined();
    else expect(site).toMatchObject({ pkgDir, ...expected });
  });
});

describe("Deno's npm cache (npm: specifiers without node_modules): only in a Deno process", () => {
  const deno = { isDeno: () => true };
  it.each([
    ['/root/.cache/deno/npm/registry.npmjs.org/acme-lib/2.3.4/index.js', '/root/.cache/deno/npm/registry.npmjs.org/acme-lib/2.3.4', '/root/.cache/deno/npm/registry.npmjs.org'],
    ['/root/.cache/deno/npm/registry.npmjs.org/@acme/lib/1.0.0/dist/x.mjs', '/root/.cache/deno/npm/registry.npmjs.org/@acme/lib/1.0.0', '/root/.cache/deno/npm/registry.npmjs.org'],
    ['/home/npm/.cache/deno/npm/registry.npmjs.org/acme-lib/2.3.4_1/index.js', '/home/npm/.cache/deno/npm/registry.npmjs.org/acme-lib/2.3.4_1', '/home/npm/.cache/deno/npm/registry.npmjs.org'],
    ['/custom/denodir/npm/127.0.0.1_4873/acme-lib/2.3.4/lib/npm/x/y/1.0.0/z.js', '/custom/denodir/npm/127.0.0.1_4873/acme-lib/2.3.4', '/custom/denodir/npm/127.0.0.1_4873'],
  ])('%s → package %s, marker in its registry folder', (file, pkgDir, root) => {
    expect(denoCacheDirOf(file, deno)).toBe(pkgDir);
    expect(installSite(pkgDir, deno)).toEqual({ kind: 'deno-npm-cache', pkgDir, treeRoot: root, projectRoot: root, markerDir: `${root}/.install-beacon` });
  });
  it.each([
    ['not Deno: the same path is no install (an author may keep sources in such folders)', '/root/.cache/deno/npm/registry.npmjs.org/acme-lib/2.3.4/index.js', {}],
    ['inside node_modules: the node_modules layouts apply', '/app/node_modules/.deno/acme-lib@2.3.4/node_modules/acme-lib/index.js', deno],
    ['no version folder', '/root/.cache/deno/npm/registry.npmjs.org/acme-lib/index.js', deno],
    ["the marker folder is not a package", '/root/.cache/deno/npm/registry.npmjs.org/.install-beacon/1.0.0/x', deno],
  ])('%s', (_why, file, probes) => {
    expect(denoCacheDirOf(file, probes)).toBeUndefined();
  });
});

describe('packageDirOf', () => {
  it.each([
    ['/app/node_modules/acme-lib/index.js', '/app/node_modules/acme-lib'],
    ['/app/node_modules/acme-lib/dist/esm/index.mjs', '/app/node_modules/acme-lib'],
    ['/app/node_modules/@acme/lib/lib/index.js', '/app/node_modules/@acme/lib'],
    ['/app/node_modules/a/node_modules/acme-lib/index.js', '/app/node_modules/a/node_modules/acme-lib'],
    ['/root/.yarn/berry/cache/acme-lib-npm-2.3.4-x-10c0.zip/node_modules/acme-lib/index.js', '/root/.yarn/berry/cache/acme-lib-npm-2.3.4-x-10c0.zip/node_modules/acme-lib'],
    ['/src/acme-lib/index.js', undefined],
    ['/app/node_modules/acme-lib', '/app/node_modules/acme-lib'],
    ['/app/node_modules/@acme/lib', '/app/node_modules/@acme/lib'],
    // yarn 4's nodeLinker: pnpm (issue 19 item 4)
    ['/app/node_modules/.store/acme-lib-npm-2.3.4-5e3f2a/package/index.js', '/app/node_modules/.store/acme-lib-npm-2.3.4-5e3f2a/package'],
    ['/app/node_modules/.store/@acme-lib-npm-1.0.0-5e3f2a/package/lib/x.js', '/app/node_modules/.store/@acme-lib-npm-1.0.0-5e3f2a/package'],
  ])('%s → %s', (file, dir) => {
    expect(packageDirOf(file)).toBe(dir);
  });
});

describe('workspaces', () => {
  it.each([
    ['packages/web', 'packages/*', true],
    ['packages/web', './packages/*', true],
    ['packages/web/inner', 'packages/*', false],
    ['apps/a/b', 'apps/**', true],
    ['tools/cli', 'tools/cli', true],
    ['tools/cli2', 'tools/cli', false],
    ['packagesX/web', 'packages/*', false],
    ['packages/web', 'packages/*/', true],
    ['packages/web', 'packages/*//', true],
    ['ab', 'a./b', false], // only a leading ./ is dropped
    ['tools/a.b', 'tools/a.b', true], // regex characters in a pattern are literal
    ['tools/axb', 'tools/a.b', false],
  ] as const)('%s matches %s: %s', (rel, pattern, expected) => {
    expect(matchesWorkspace(rel, pattern)).toBe(expected);
  });

  // The glob forms npm (minimatch), pnpm, yarn and bun accept (issue 19, item 2). Each row was
  // checked against npm 11's own workspace listing; test/workspace-globs.test.ts runs the real
  // managers on the same forms.
  it.each([
    ['packages/app', 'packages/{app,o}', true],
    ['packages/o', 'packages/{app,o}', true],
    ['packages/b', 'packages/{app,o}', false],
    ['packages/app', 'packages/@(app|o)', true],
    ['packages/ap', 'packages/@(app|o)', false],
    ['packages/app', 'packages/[ao]*', true],
    ['packages/b', 'packages/[ao]*', false],
    ['packages/b', 'packages/[!a]*', true],
    ['packages/app', 'packages/[!a]*', false],
    ['packages/bpp', 'packages/[a-c]pp', true],
    ['packages/app', 'packages/!(o)', true],
    ['packages/o', 'packages/!(o)', false],
    ['packages/pp', 'packages/?(a)pp', true],
    ['packages/app', 'packages/?(a)pp', true],
    ['packages/aapp', 'packages/?(a)pp', false],
    ['packages/aaa', 'packages/+(a)', true],
    ['packages/aab', 'packages/*(a)b', true],
    ['packages/app', 'packages/a?p', true],
    ['apps/z', '{packages,apps}/*', true],
    ['packages/bd', 'packages/{a,b{c,d}}', true],
    ['packages/b', 'packages/{a,b{c,d}}', false],
    ['packages', 'packages/**', true], // npm lists the folder itself
    ['packages/a/b/x', 'packages/**/x', true],
    ['packages/x', 'packages/**/x', true],
    ['packages/.hidden', 'packages/*', false], // no wildcard matches a leading dot
    ['packages/a/.x/b', 'packages/**', false],
    ['packages/.hidden', 'packages/.hidden', true],
    ['packages/*', 'packages/\\*', true],
    ['packages/x', 'packages/\\*', false],
    ['packages/{app}', 'packages/{app}', true], // a brace group without a comma is literal
    ['packages/app', 'packages/{app}', false],
    ['packages/app', 'packages/(app', false], // unbalanced: matches nothing
    ['packages/a|b', 'packages/a|b', true],
    ['packages/a', 'packages/[a', false],
  ] as const)('%s matches %s: %s', (rel, pattern, expected) => {
    expect(matchesWorkspace(rel, pattern)).toBe(expected);
  });

  it.each([
    [['packages/*', '!packages/o'], 'packages/o', false],
    [['packages/*', '!packages/o'], 'packages/app', true],
    [['packages/*', '!!packages/o'], 'packages/o', true], // an even number of ! is no negation (npm)
    [['packages/**', '!packages/b/**', 'packages/b/a'], 'packages/b/a', true], // a later pattern adds back (npm)
    [['packages/**', '!packages/b/**', 'packages/b/a'], 'packages/b/c', false],
    [['!packages/o', 'packages/*'], 'packages/o', true],
    [['./packages/*'], 'packages/app', true],
    [['!./packages/o', 'packages/*'], 'packages/app', true],
  ])('isWorkspace(%j, %j): %s', (patterns, rel, expected) => {
    expect(isWorkspace(rel, patterns)).toBe(expected);
  });

  it('reads pnpm-workspace.yaml when given readText, with its exclusions', () => {
    const fs = new MemFs({ '/p/pnpm-workspace.yaml': "packages:\n  - 'apps/*'\n  - '!apps/skip'\n" });
    const { readJson, readText } = fs.probes();
    expect(enclosingWorkspaceRoot('/p/apps/web', readJson, readText)).toBe('/p');
    expect(enclosingWorkspaceRoot('/p/apps/skip', readJson, readText)).toBeUndefined();
    expect(enclosingWorkspaceRoot('/p/apps/web', readJson)).toBeUndefined(); // installTarget: npm's view
  });

  it('finds the nearest root that lists the folder as a member', () => {
    const fs = new MemFs({ '/m/package.json': { workspaces: ['packages/*'] }, '/m/packages/web/package.json': {} });
    const read = fs.probes().readJson;
    expect(enclosingWorkspaceRoot('/m/packages/web', read)).toBe('/m');
    expect(enclosingWorkspaceRoot('/m/other', read)).toBeUndefined();
    expect(enclosingWorkspaceRoot('/m', read)).toBeUndefined();
  });

  it.each([
    ['/a/b/c', ['/a/b', '/a', '/']],
    ['/a/b/', ['/a', '/']],
    ['/a/b//', ['/a', '/']],
    ['/ab/c', ['/ab', '/']],
    ['/', []],
    ['C:\\a\\b', ['C:\\a', 'C:']],
    ['C:', []],
    ['\\a\\b', ['\\a', '\\']],
  ])('ancestors(%j) stop at the root: %j', (dir, expected) => {
    expect(ancestors(dir)).toEqual(expected);
  });

  it.each([
    ['/a/b', '/a'],
    ['/abc', '/'],
    ['C:\\app\\x', 'C:\\app'],
    ['\\x', '\\'],
  ])('parentOf(%j) = %j', (file, parent) => {
    expect(parentOf(file)).toBe(parent);
  });

  it.each([
    ['an array', { workspaces: ['packages/*'] }, ['packages/*']],
    ["yarn 1's {packages}", { workspaces: { packages: ['apps/*'] } }, ['apps/*']],
    ['non-strings dropped', { workspaces: ['a', 1, null, 'b'] }, ['a', 'b']],
    ['a string (not a list)', { workspaces: 'packages/*' }, []],
    ['{packages} not a list', { workspaces: { packages: 'apps/*' } }, []],
    ['null workspaces', { workspaces: null }, []],
    ['no workspaces', {}, []],
    ['JSON null', null, []],
    ['no package.json', undefined, []],
  ])('workspacePatterns: %s', (_n, pkg, expected) => {
    expect(workspacePatterns(pkg)).toEqual(expected);
  });

  it.each([
    ['a member given with a trailing slash', { '/m/package.json': { workspaces: ['packages/*'] } }, '/m/packages/web/', '/m'],
    ['a member given with two trailing slashes', { '/m/package.json': { workspaces: ['packages/*'] } }, '/m/packages/web//', '/m'],
    ['a member listed by its exact path, given with a trailing slash', { '/m/package.json': { workspaces: ['tools/cli'] } }, '/m/tools/cli/', '/m'],
    ['the root lists several patterns; one matches', { '/m/package.json': { workspaces: ['packages/*', 'apps/*'] } }, '/m/apps/x', '/m'],
    ['a workspace root at the file-system root', { '/package.json': { workspaces: ['m/*'] } }, '/m/web', '/'],
    ['Windows paths', { 'C:\\m/package.json': { workspaces: ['packages/*'] } }, 'C:\\m\\packages\\web', 'C:\\m'],
    ['a root whose package.json is JSON null is skipped', { '/m/packages/package.json': null, '/m/package.json': { workspaces: ['packages/*'] } }, '/m/packages/web', '/m'],
  ])('enclosingWorkspaceRoot: %s', (_n, files, dir, root) => {
    expect(enclosingWorkspaceRoot(dir, new MemFs(files).probes().readJson)).toBe(root);
  });
});

describe('installTarget: where an install started in cwd goes (explain agrees with the hook)', () => {
  const fs = new MemFs({
    '/proj/package.json': {},
    '/proj/src/index.js': '',
    '/mono/package.json': { workspaces: ['packages/*'] },
    '/mono/packages/app/package.json': {},
    '/mono/packages/app/src/x.js': '',
    '/loose/node_modules/acme-lib/package.json': {},
    '/loose/sub/x.js': '',
  });
  const rootProject = new MemFs({ '/package.json': {}, '/empty/x.js': '', '/node_modules/top/package.json': {} });
  it.each([
    ['a folder below a project at the file-system root', '/empty', '/'],
    ['inside a tree at the file-system root', '/node_modules/top', '/'],
  ])('%s: %s → %s', (_n, cwd, expected) => {
    expect(installTarget(cwd, rootProject.probes())).toBe(expected);
  });
  it.each([
    ['the project folder', '/proj', '/proj'],
    ['a subfolder without package.json', '/proj/src', '/proj'],
    ['a workspace member', '/mono/packages/app', '/mono'],
    ["a subfolder of a workspace member", '/mono/packages/app/src', '/mono'],
    ['a folder with only node_modules', '/loose', '/loose'],
    ['inside node_modules', '/proj/node_modules/acme-lib', '/proj'],
    ['nowhere: the folder itself', '/empty/dir', '/empty/dir'],
    ['inside an installed package (it has a package.json): the tree', '/loose/node_modules/acme-lib', '/loose'],
    ['a subfolder of a folder with only node_modules', '/loose/sub', '/loose'],
    ["a workspace member's node_modules: the member's tree, not the workspace root", '/mono/packages/app/node_modules', '/mono/packages/app'],
  ])('%s: %s → %s', (_n, cwd, expected) => {
    expect(installTarget(cwd, fs.probes())).toBe(expected);
  });
});
