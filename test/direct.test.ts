import { describe, expect, it } from 'vitest';
import { decide } from '../src/decide.js';
import { detectDirect, installedName, namesAskingFor, workspaceMembers, type PnpApi } from '../src/direct.js';
import { pnpmWorkspacePatterns } from '../src/layout.js';
import { installSite } from '../src/layout.js';
import { MemFs } from './support/memfs.js';

// {direct} in every layout (the paths are layout.ts's, as the package managers
// write them: see test/layout.test.ts). Each case is a tree: files, symbolic
// links (pnpm, bun's isolated linker and deno link a project's dependencies
// into its node_modules), the package's folder, and whether the install is global.

const lib = (version = '2.3.4', deps: Record<string, string> = {}) => ({ name: 'acme-lib', version, dependencies: deps });
const pkg = (name: string, deps: Record<string, string> = {}, field = 'dependencies') => ({ name, version: '1.0.0', [field]: deps });

interface Case {
  files: Record<string, unknown>;
  links?: Record<string, string>;
  pkgDir: string;
  global?: boolean;
  api?: PnpApi;
  expected: 'true' | 'false' | 'unknown';
}

const NPM = '/app/node_modules/acme-lib';
const STORE = '/app/node_modules/.pnpm/acme-lib@2.3.4/node_modules/acme-lib';

const cases: Record<string, Case> = {
  // npm, yarn 1, yarn 4 node-modules, bun (hoisted)
  'npm: listed in dependencies': { files: { '/app/package.json': pkg('app', { 'acme-lib': '^2' }), [`${NPM}/package.json`]: lib() }, pkgDir: NPM, expected: 'true' },
  ...Object.fromEntries(['devDependencies', 'optionalDependencies', 'peerDependencies'].map((field) => [
    `npm: listed in ${field}`, { files: { '/app/package.json': pkg('app', { 'acme-lib': '^2' }, field), [`${NPM}/package.json`]: lib() }, pkgDir: NPM, expected: 'true' },
  ])),
  'npm: hoisted, another package depends on it': {
    files: { '/app/package.json': pkg('app', { 'mid-a': '1' }), '/app/node_modules/mid-a/package.json': pkg('mid-a', { 'acme-lib': '^2' }), [`${NPM}/package.json`]: lib() }, pkgDir: NPM, expected: 'false',
  },
  'npm: hoisted, another package lists it as a peer': {
    files: { '/app/package.json': pkg('app', { 'mid-a': '1' }), '/app/node_modules/mid-a/package.json': pkg('mid-a', { 'acme-lib': '^2' }, 'peerDependencies'), [`${NPM}/package.json`]: lib() }, pkgDir: NPM, expected: 'false',
  },
  // Issue 19 item 11: a dependent counts only if it installs acme-lib and resolves it to this very copy.
  'npm install acme-lib: another top-level package lists it only in devDependencies (never installed for it)': {
    files: { '/app/package.json': pkg('app'), '/app/node_modules/dev-only/package.json': pkg('dev-only', { 'acme-lib': '^2' }, 'devDependencies'), [`${NPM}/package.json`]: lib() }, pkgDir: NPM, expected: 'true',
  },
  'npm install acme-lib@2.3.5 mid-a: mid-a resolves its own nested 2.3.4, not this copy': {
    files: {
      '/app/package.json': pkg('app'), [`${NPM}/package.json`]: lib('2.3.5'),
      '/app/node_modules/mid-a/package.json': pkg('mid-a', { 'acme-lib': '2.3.4' }), '/app/node_modules/mid-a/node_modules/acme-lib/package.json': lib(),
    },
    pkgDir: NPM, expected: 'true',
  },
  'a workspace member linked into node_modules depends on it: resolved from the member\'s real folder': {
    files: { '/app/package.json': pkg('app'), '/app/packages/api/package.json': pkg('api', { 'acme-lib': '^2' }), [`${NPM}/package.json`]: lib() },
    links: { '/app/node_modules/api': '/app/packages/api' }, pkgDir: NPM, expected: 'false',
  },
  'npm install acme-lib: not yet in package.json (npm writes it after the scripts), nobody depends on it': {
    files: { '/app/package.json': pkg('app', { 'mid-a': '1' }), '/app/node_modules/mid-a/package.json': pkg('mid-a'), [`${NPM}/package.json`]: lib() }, pkgDir: NPM, expected: 'true',
  },
  'npm: a scoped dependent': {
    files: { '/app/package.json': pkg('app'), '/app/node_modules/@x/mid/package.json': pkg('@x/mid', { 'acme-lib': '2' }), [`${NPM}/package.json`]: lib() }, pkgDir: NPM, expected: 'false',
  },
  'npm: the project asks for acme-lib@1, this is the 2.3.4 nested under mid-a': {
    files: {
      '/app/package.json': pkg('app', { 'acme-lib': '^1', 'mid-a': '1' }), [`${NPM}/package.json`]: lib('1.0.0'),
      '/app/node_modules/mid-a/package.json': pkg('mid-a', { 'acme-lib': '^2' }), '/app/node_modules/mid-a/node_modules/acme-lib/package.json': lib(),
    },
    pkgDir: '/app/node_modules/mid-a/node_modules/acme-lib', expected: 'false',
  },
  'npm: nested under mid-a, not listed': {
    files: { '/app/package.json': pkg('app', { 'mid-a': '1' }), '/app/node_modules/mid-a/node_modules/acme-lib/package.json': lib() }, pkgDir: '/app/node_modules/mid-a/node_modules/acme-lib', expected: 'false',
  },
  'npm: an alias ("acme": "npm:acme-lib@^2")': { files: { '/app/package.json': pkg('app', { acme: 'npm:acme-lib@^2' }), '/app/node_modules/acme/package.json': lib() }, pkgDir: '/app/node_modules/acme', expected: 'true' },
  'npm: scoped, listed': { files: { '/app/package.json': pkg('app', { '@acme/lib': '2' }), '/app/node_modules/@acme/lib/package.json': { name: '@acme/lib' } }, pkgDir: '/app/node_modules/@acme/lib', expected: 'true' },
  "the project's package.json cannot be read": { files: { [`${NPM}/package.json`]: lib() }, pkgDir: NPM, expected: 'unknown' },
  'a malformed project package.json': { files: { '/app/package.json': '{"dependencies":', [`${NPM}/package.json`]: lib() }, pkgDir: NPM, expected: 'unknown' },
  'npx: the temporary project lists what was asked for': { files: { '/root/.npm/_npx/1a2b/package.json': pkg('', { 'acme-lib': '2' }), '/root/.npm/_npx/1a2b/node_modules/acme-lib/package.json': lib() }, pkgDir: '/root/.npm/_npx/1a2b/node_modules/acme-lib', expected: 'true' },

  // workspaces: a member's own dependency is direct
  'npm workspace: a member lists it, hoisted into the root': {
    files: { '/mono/package.json': { name: 'mono', workspaces: ['packages/*'] }, '/mono/packages/web/package.json': pkg('web', { 'acme-lib': '^2' }), '/mono/node_modules/acme-lib/package.json': lib() },
    links: { '/mono/node_modules/web': '/mono/packages/web' }, pkgDir: '/mono/node_modules/acme-lib', expected: 'true',
  },
  "npm workspace: in the member's own node_modules (could not be hoisted)": {
    files: { '/mono/package.json': { name: 'mono', workspaces: ['packages/*'] }, '/mono/packages/web/package.json': pkg('web', { 'acme-lib': '^2' }), '/mono/packages/web/node_modules/acme-lib/package.json': lib(), '/mono/node_modules/acme-lib/package.json': lib('1.0.0') },
    pkgDir: '/mono/packages/web/node_modules/acme-lib', expected: 'true',
  },
  'npm workspace: a member asks for 1.x, this hoisted 2.3.4 is another package\'s': {
    files: { '/mono/package.json': { name: 'mono', workspaces: ['packages/*'] }, '/mono/packages/web/package.json': pkg('web', { 'acme-lib': '^1' }), '/mono/packages/web/node_modules/acme-lib/package.json': lib('1.0.0'), '/mono/node_modules/acme-lib/package.json': lib(), '/mono/node_modules/mid-a/package.json': pkg('mid-a', { 'acme-lib': '2' }) },
    pkgDir: '/mono/node_modules/acme-lib', expected: 'false',
  },
  'npm workspace: a member deep under apps/** lists it': {
    files: { '/mono/package.json': { name: 'mono', workspaces: { packages: ['apps/**'] } }, '/mono/apps/team/web/package.json': pkg('web', { 'acme-lib': '2' }), '/mono/node_modules/acme-lib/package.json': lib(), '/mono/node_modules/mid-a/package.json': pkg('mid-a', { 'acme-lib': '2' }) },
    pkgDir: '/mono/node_modules/acme-lib', expected: 'true',
  },
  'npm workspace: only another package depends on it': {
    files: { '/mono/package.json': { name: 'mono', workspaces: ['packages/*'] }, '/mono/packages/web/package.json': pkg('web', { 'mid-a': '1' }), '/mono/node_modules/mid-a/package.json': pkg('mid-a', { 'acme-lib': '2' }), '/mono/node_modules/acme-lib/package.json': lib() },
    pkgDir: '/mono/node_modules/acme-lib', expected: 'false',
  },

  // pnpm: the store, and links from each project's node_modules
  'pnpm: listed, linked from the project': {
    files: { '/app/package.json': pkg('app', { 'acme-lib': '^2' }), [`${STORE}/package.json`]: lib(), '/app/node_modules/.pnpm/node_modules/acme-lib/x': '' },
    links: { '/app/node_modules/acme-lib': STORE, '/app/node_modules/.pnpm/node_modules/acme-lib': STORE }, pkgDir: STORE, expected: 'true',
  },
  'pnpm: the project asks for 1.x; this 2.3.4 in the store is mid-a\'s': {
    files: { '/app/package.json': pkg('app', { 'acme-lib': '^1', 'mid-a': '1' }), [`${STORE}/package.json`]: lib(), '/app/node_modules/.pnpm/acme-lib@1.0.0/node_modules/acme-lib/package.json': lib('1.0.0'), '/app/node_modules/.pnpm/mid-a@1.0.0/node_modules/mid-a/package.json': pkg('mid-a', { 'acme-lib': '^2' }) },
    links: { '/app/node_modules/acme-lib': '/app/node_modules/.pnpm/acme-lib@1.0.0/node_modules/acme-lib', '/app/node_modules/.pnpm/mid-a@1.0.0/node_modules/acme-lib': STORE },
    pkgDir: STORE, expected: 'false',
  },
  'pnpm: not listed, mid-a\'s store folder links it': {
    files: { '/app/package.json': pkg('app', { 'mid-a': '1' }), [`${STORE}/package.json`]: lib(), '/app/node_modules/.pnpm/mid-a@1.0.0/node_modules/mid-a/package.json': pkg('mid-a', { 'acme-lib': '^2' }) },
    links: { '/app/node_modules/mid-a': '/app/node_modules/.pnpm/mid-a@1.0.0/node_modules/mid-a', '/app/node_modules/.pnpm/mid-a@1.0.0/node_modules/acme-lib': STORE, '/app/node_modules/.pnpm/node_modules/acme-lib': STORE },
    pkgDir: STORE, expected: 'false',
  },
  'pnpm add acme-lib: not yet in package.json, no store folder links it (.pnpm/node_modules, the hidden hoist, does not count)': {
    files: { '/app/package.json': pkg('app'), [`${STORE}/package.json`]: lib() },
    links: { '/app/node_modules/acme-lib': STORE, '/app/node_modules/.pnpm/node_modules/acme-lib': STORE }, pkgDir: STORE, expected: 'true',
  },
  'pnpm: publicly hoisted into the project (public-hoist-pattern) but not listed': {
    files: { '/app/package.json': pkg('app', { 'mid-a': '1' }), [`${STORE}/package.json`]: lib(), '/app/node_modules/.pnpm/mid-a@1.0.0/node_modules/mid-a/package.json': pkg('mid-a', { 'acme-lib': '^2' }) },
    links: { '/app/node_modules/acme-lib': STORE, '/app/node_modules/.pnpm/mid-a@1.0.0/node_modules/acme-lib': STORE }, pkgDir: STORE, expected: 'false',
  },
  'pnpm workspace (pnpm-workspace.yaml): a member lists it': {
    files: { '/mono/package.json': pkg('mono'), '/mono/pnpm-workspace.yaml': "packages:\n  - 'packages/*'\n  - '!**/test/**'\n", '/mono/packages/web/package.json': pkg('web', { 'acme-lib': '^2' }), '/mono/node_modules/.pnpm/acme-lib@2.3.4/node_modules/acme-lib/package.json': lib() },
    links: { '/mono/packages/web/node_modules/acme-lib': '/mono/node_modules/.pnpm/acme-lib@2.3.4/node_modules/acme-lib' }, pkgDir: '/mono/node_modules/.pnpm/acme-lib@2.3.4/node_modules/acme-lib', expected: 'true',
  },

  // bun's isolated linker and deno keep a store like pnpm's
  'bun (isolated linker): listed': {
    files: { '/app/package.json': pkg('app', { 'acme-lib': '^2' }), '/app/node_modules/.bun/acme-lib@2.3.4/node_modules/acme-lib/package.json': lib() },
    links: { '/app/node_modules/acme-lib': '/app/node_modules/.bun/acme-lib@2.3.4/node_modules/acme-lib' }, pkgDir: '/app/node_modules/.bun/acme-lib@2.3.4/node_modules/acme-lib', expected: 'true',
  },
  'deno (node_modules dir): a deno.json import': {
    files: { '/app/deno.json': { imports: { 'acme-lib': 'npm:acme-lib@^2' } }, '/app/package.json': pkg('app'), '/app/node_modules/.deno/acme-lib@2.3.4/node_modules/acme-lib/package.json': lib() },
    links: { '/app/node_modules/acme-lib': '/app/node_modules/.deno/acme-lib@2.3.4/node_modules/acme-lib' }, pkgDir: '/app/node_modules/.deno/acme-lib@2.3.4/node_modules/acme-lib', expected: 'true',
  },
  'deno: another package\'s dependency': {
    files: { '/app/deno.json': { imports: { 'mid-a': 'npm:mid-a@1' } }, '/app/package.json': pkg('app'), '/app/node_modules/.deno/acme-lib@2.3.4/node_modules/acme-lib/package.json': lib(), '/app/node_modules/.deno/mid-a@1.0.0/node_modules/mid-a/package.json': pkg('mid-a', { 'acme-lib': '2' }) },
    links: { '/app/node_modules/.deno/mid-a@1.0.0/node_modules/acme-lib': '/app/node_modules/.deno/acme-lib@2.3.4/node_modules/acme-lib' }, pkgDir: '/app/node_modules/.deno/acme-lib@2.3.4/node_modules/acme-lib', expected: 'false',
  },

  // global installs: a request when at the top of the global tree
  'npm -g: the package asked for (no package.json at the prefix)': { files: { '/usr/local/lib/node_modules/acme-lib/package.json': lib() }, pkgDir: '/usr/local/lib/node_modules/acme-lib', global: true, expected: 'true' },
  "npm -g: a global package's own dependency": { files: { '/usr/local/lib/node_modules/cli/node_modules/acme-lib/package.json': lib() }, pkgDir: '/usr/local/lib/node_modules/cli/node_modules/acme-lib', global: true, expected: 'false' },
  'pnpm -g: listed in the global package.json': {
    files: { '/root/.local/share/pnpm/global/5/package.json': pkg('', { 'acme-lib': '2' }), '/root/.local/share/pnpm/global/5/node_modules/.pnpm/acme-lib@2.3.4/node_modules/acme-lib/package.json': lib() },
    links: { '/root/.local/share/pnpm/global/5/node_modules/acme-lib': '/root/.local/share/pnpm/global/5/node_modules/.pnpm/acme-lib@2.3.4/node_modules/acme-lib' },
    pkgDir: '/root/.local/share/pnpm/global/5/node_modules/.pnpm/acme-lib@2.3.4/node_modules/acme-lib', global: true, expected: 'true',
  },
  'yarn 1 global: listed in its global package.json': { files: { '/root/.config/yarn/global/package.json': pkg('', { 'acme-lib': '2' }), '/root/.config/yarn/global/node_modules/acme-lib/package.json': lib() }, pkgDir: '/root/.config/yarn/global/node_modules/acme-lib', global: true, expected: 'true' },
  'bun -g: listed in its global package.json': { files: { '/root/.bun/install/global/package.json': pkg('', { 'acme-lib': '2' }), '/root/.bun/install/global/node_modules/acme-lib/package.json': lib() }, pkgDir: '/root/.bun/install/global/node_modules/acme-lib', global: true, expected: 'true' },

  "the author's own checkout: no installed tree": { files: { '/src/acme-lib/package.json': lib() }, pkgDir: '/src/acme-lib', expected: 'unknown' },
};

/** A PnP API as yarn 4 serves it: workspaces (tree roots) and each package's resolved dependencies. */
function pnpApi(packages: Record<string, { locator: [string, string]; deps: Array<[string, string | [string, string]]> }>, locate: (path: string) => [string, string] | null, roots: string[]): PnpApi {
  const key = (l: { name: string; reference: string }) => `${l.name}@${l.reference}`;
  const byKey = new Map(Object.values(packages).map((p) => [`${p.locator[0]}@${p.locator[1]}`, new Map(p.deps)]));
  return {
    findPackageLocator: (path) => {
      const l = locate(path);
      return l ? { name: l[0], reference: l[1] } : null;
    },
    getDependencyTreeRoots: () => roots.map((r) => ({ name: packages[r]!.locator[0], reference: packages[r]!.locator[1] })),
    getPackageInformation: (l) => (byKey.has(key(l)) ? { packageDependencies: byKey.get(key(l))! } : null),
  };
}

const UNPLUGGED = '/app/.yarn/unplugged/acme-lib-npm-2.3.4-abc/node_modules/acme-lib';
const locateAcme = (path: string): [string, string] | null => (path.includes('acme-lib-npm-2.3.4') ? ['acme-lib', 'npm:2.3.4'] : null);
const yarnCases: Record<string, Case> = {
  'yarn PnP: the workspace depends on it (unplugged, the postinstall)': {
    files: { '/app/package.json': pkg('app') },
    api: pnpApi({ app: { locator: ['app', 'workspace:.'], deps: [['acme-lib', 'npm:2.3.4']] } }, locateAcme, ['app']),
    pkgDir: UNPLUGGED, expected: 'true',
  },
  'yarn PnP: a workspace member depends on it': {
    files: { '/app/package.json': pkg('app') },
    api: pnpApi({ app: { locator: ['app', 'workspace:.'], deps: [['web', 'workspace:packages/web']] }, web: { locator: ['web', 'workspace:packages/web'], deps: [['acme-lib', 'npm:2.3.4']] } }, locateAcme, ['app', 'web']),
    pkgDir: '/app/.yarn/cache/acme-lib-npm-2.3.4-abc-10c0.zip/node_modules/acme-lib', expected: 'true',
  },
  'yarn PnP: a virtual instance (a package with peer dependencies)': {
    files: {},
    api: pnpApi({ app: { locator: ['app', 'workspace:.'], deps: [['acme-lib', 'virtual:f00#npm:2.3.4']] } }, () => ['acme-lib', 'virtual:f00#npm:2.3.4'], ['app']),
    pkgDir: '/app/.yarn/__virtual__/acme-lib-virtual-f00/0/cache/acme-lib-npm-2.3.4-abc-10c0.zip/node_modules/acme-lib', expected: 'true',
  },
  'yarn PnP: an alias': {
    files: {},
    api: pnpApi({ app: { locator: ['app', 'workspace:.'], deps: [['acme', ['acme-lib', 'npm:2.3.4']]] } }, locateAcme, ['app']),
    pkgDir: UNPLUGGED, expected: 'true',
  },
  "yarn PnP: only mid-a depends on it (yarn add's new dependencies are in the PnP data before package.json)": {
    files: { '/app/package.json': pkg('app', { 'mid-a': '1' }) },
    api: pnpApi({ app: { locator: ['app', 'workspace:.'], deps: [['mid-a', 'npm:1.0.0']] }, mid: { locator: ['mid-a', 'npm:1.0.0'], deps: [['acme-lib', 'npm:2.3.4']] } }, locateAcme, ['app']),
    pkgDir: UNPLUGGED, expected: 'false',
  },
  'yarn PnP: the workspace asks for 1.x; this 2.3.4 is mid-a\'s': {
    files: {},
    api: pnpApi({ app: { locator: ['app', 'workspace:.'], deps: [['acme-lib', 'npm:1.0.0'], ['mid-a', 'npm:1.0.0']] } }, locateAcme, ['app']),
    pkgDir: UNPLUGGED, expected: 'false',
  },
  'yarn PnP without a loaded runtime: the manifest': { files: { '/app/package.json': pkg('app', { 'acme-lib': '^2' }) }, pkgDir: UNPLUGGED, expected: 'true' },
  'yarn PnP without a runtime, unreadable manifest': { files: {}, pkgDir: UNPLUGGED, expected: 'unknown' },
};

describe('detectDirect: every layout', () => {
  it.each(Object.entries({ ...cases, ...yarnCases }))('%s', (_name, c) => {
    const fs = new MemFs(c.files);
    for (const [from, to] of Object.entries(c.links ?? {})) fs.links.set(from, to);
    const probes = { ...fs.probes(), pnpApiFor: c.api ? () => c.api : undefined };
    const site = installSite(c.pkgDir, { pnpFileFor: () => '/app/.pnp.cjs' });
    expect(detectDirect(site, 'acme-lib', c.global ?? false, probes)).toBe(c.expected);
  });
});

// Deno's own npm cache (`deno run` with no node_modules): <DENO_DIR>/npm/<registry>/<name>/<version>,
// shared by every program on the machine. The project is the program Deno runs (its main module):
// the deno.lock Deno keeps beside the config it finds above it, or, with no config, the main module's own imports.
const CACHED = '/root/.cache/deno/npm/registry.npmjs.org/acme-lib/2.3.4';
const lock = (specifiers: Record<string, string>) => ({ version: '5', specifiers, npm: {} });
const denoCacheCases: Record<string, { files: Record<string, unknown>; main?: string; pkgDir?: string; expected: 'true' | 'false' | 'unknown' }> = {
  'a deno.json import (deno.lock: "npm:acme-lib@^2": "2.3.4")': {
    files: { '/app/deno.json': { imports: { 'acme-lib': 'npm:acme-lib@^2' } }, '/app/deno.lock': lock({ 'npm:acme-lib@^2': '2.3.4' }), '/app/main.ts': "import 'acme-lib';\n" },
    main: '/app/main.ts', expected: 'true',
  },
  'the main module in a subfolder: the lockfile above it': {
    files: { '/app/deno.json': {}, '/app/deno.lock': lock({ 'npm:acme-lib@*': '2.3.4' }), '/app/src/cli/main.ts': "import 'npm:acme-lib';\n" },
    main: '/app/src/cli/main.ts', expected: 'true',
  },
  "only mid-a asked for: acme-lib is mid-a's": {
    files: { '/app/deno.json': { imports: { 'mid-a': 'npm:mid-a@1' } }, '/app/deno.lock': lock({ 'npm:mid-a@1': '1.0.0' }), '/app/main.ts': "import 'mid-a'; // not npm:acme-lib\n" },
    main: '/app/main.ts', expected: 'false',
  },
  'the project asks for acme-lib 1.x; this 2.3.4 is mid-a\'s': {
    files: { '/app/deno.json': {}, '/app/deno.lock': lock({ 'npm:acme-lib@1': '1.0.0', 'npm:mid-a@1': '1.0.0' }), '/app/main.ts': '' },
    main: '/app/main.ts', expected: 'false',
  },
  'a second copy of the version (peer dependencies: <version>_1), asked for': {
    files: { '/app/deno.json': {}, '/app/deno.lock': lock({ 'npm:@s/x@^2': '2.3.4_react@18.3.1', 'jsr:@std/path@1': '1.0.8' }), '/app/main.ts': '' },
    main: '/app/main.ts', pkgDir: '/root/.cache/deno/npm/registry.npmjs.org/@s/x/2.3.4_1', expected: 'true',
  },
  'no config, no lockfile: the main module imports npm:acme-lib': { files: { '/tmp/x/script.mjs': "import lib from 'npm:acme-lib@2';\n" }, main: '/tmp/x/script.mjs', expected: 'true' },
  'no config: the main module imports npm:mid-a (and npm:acme-lib-extra, another package)': {
    files: { '/tmp/x/script.mjs': "import 'npm:mid-a';\nimport 'npm:acme-lib-extra';\n" }, main: '/tmp/x/script.mjs', expected: 'false',
  },
  'deno run npm:acme-lib: the main module is its own bin, in the cache': { files: { [`${CACHED}/cli.js`]: "require('./index.js');\n" }, main: `${CACHED}/cli.js`, expected: 'true' },
  "deno run npm:mid-a: acme-lib is mid-a's dependency": {
    files: { '/root/.cache/deno/npm/registry.npmjs.org/mid-a/1.0.0/cli.js': "require('acme-lib');\n" }, main: '/root/.cache/deno/npm/registry.npmjs.org/mid-a/1.0.0/cli.js', expected: 'false',
  },
  'the main module is not a local file (Deno.mainModule is https:)': { files: {}, expected: 'unknown' },
  'the main module cannot be read': { files: {}, main: '/gone/main.ts', expected: 'unknown' },
};

describe("detectDirect in Deno's npm cache: the project Deno runs", () => {
  it.each(Object.entries(denoCacheCases))('%s', (_name, c) => {
    const probes = { ...new MemFs(c.files).probes(), denoMainModule: () => c.main };
    const pkgDir = c.pkgDir ?? CACHED;
    const site = installSite(pkgDir, { isDeno: () => true });
    expect(site?.kind).toBe('deno-npm-cache');
    expect(detectDirect(site, pkgDir.includes('@s/x') ? '@s/x' : 'acme-lib', false, probes)).toBe(c.expected);
  });
});

describe('after the install (reportInstall) and in npm ci, package.json is complete: no scan of other packages', () => {
  const tree = { '/app/package.json': pkg('app', { 'mid-a': '1' }), '/app/node_modules/mid-a/package.json': pkg('mid-a'), [`${NPM}/package.json`]: lib() };
  it.each([
    ['unlisted, in a postinstall (may be a new `npm install acme-lib`)', tree, NPM, false, true, 'true'],
    ['unlisted, package.json complete: pulled in, without reading mid-a', tree, NPM, false, false, 'false'],
    ['npm -g, package.json-less prefix: still the top of the global tree', { '/usr/local/lib/node_modules/acme-lib/package.json': lib() }, '/usr/local/lib/node_modules/acme-lib', true, false, 'true'],
  ] as const)('%s', (_name, files, pkgDir, global, unsaved, expected) => {
    const fs = new MemFs(files);
    expect(detectDirect(installSite(pkgDir), 'acme-lib', global, fs.probes(), unsaved)).toBe(expected);
    if (!unsaved && !global) expect(fs.calls).not.toContain('readJson /app/node_modules/mid-a/package.json');
  });

  it.each([
    ['postinstall', {}, 'true'],
    ['postinstall', { npm_command: 'ci' }, 'false'],
    ['postinstall', { npm_command: 'rebuild' }, 'false'],
    ['runtime', {}, 'false'],
  ] as const)('decide: %s with %j → direct=%s', (trigger, env, expected) => {
    const fs = new MemFs({ ...tree, [`${NPM}/package.json`]: { ...lib(), installBeacon: { url: 'https://e.com/{name}?direct={direct}' } } });
    const d = decide({ env, pkgDir: NPM, trigger, platform: 'linux', arch: 'x64', nodeVersion: '20.20.2', beaconVersion: '1.0.0', probes: fs.probes(), marker: fs.markerFs(), newId: () => 'id', now: 0 });
    expect(d.url).toBe(`https://e.com/acme-lib?direct=${expected}`);
  });
});

describe("pnpm 11+ global installs: the global virtual store's path names no project; the global dir (INIT_CWD) links what was asked for", () => {
  const G = '/root/.local/share/pnpm/global/v11/55d0-0';
  const LINKS = '/root/.local/share/pnpm/store/v11/links/@';
  const files = {
    [`${G}/package.json`]: pkg('', { 'mid-a': '1' }),
    [`${LINKS}/mid-a/1.0.0/h1/node_modules/mid-a/package.json`]: pkg('mid-a', { 'acme-lib': '2' }),
    [`${LINKS}/acme-lib/2.3.4/h2/node_modules/acme-lib/package.json`]: lib(),
    [`${LINKS}/other/1.0.0/h3/node_modules/other/package.json`]: pkg('other'),
  };
  const links = { [`${G}/node_modules/mid-a`]: `${LINKS}/mid-a/1.0.0/h1/node_modules/mid-a`, [`${LINKS}/mid-a/1.0.0/h1/node_modules/acme-lib`]: `${LINKS}/acme-lib/2.3.4/h2/node_modules/acme-lib` };
  it.each([
    ['the package asked for (pnpm add -g mid-a)', `${LINKS}/mid-a/1.0.0/h1/node_modules/mid-a`, G, 'true'],
    ["a global package's dependency", `${LINKS}/acme-lib/2.3.4/h2/node_modules/acme-lib`, G, 'false'],
    // The store is no project's tree (layout.ts): without the global dir no project is found.
    ['without the global dir, the store folder is in no tree: unknown', `${LINKS}/acme-lib/2.3.4/h2/node_modules/acme-lib`, undefined, 'unknown'],
  ])('%s', (_name, pkgDir, globalDir, expected) => {
    const fs = new MemFs(files);
    for (const [from, to] of Object.entries(links)) fs.links.set(from, to);
    expect(detectDirect(installSite(pkgDir, {}, globalDir), pkgDir.includes('mid-a') ? 'mid-a' : 'acme-lib', true, fs.probes(), true, globalDir)).toBe(expected);
  });

  it('decide passes INIT_CWD as the global dir only for a postinstall in pnpm\'s global dir', () => {
    const fs = new MemFs({ ...files, [`${LINKS}/acme-lib/2.3.4/h2/node_modules/acme-lib/package.json`]: { ...lib(), installBeacon: { url: 'https://e.com/{name}?direct={direct}' } } });
    for (const [from, to] of Object.entries(links)) fs.links.set(from, to);
    const at = (trigger: 'postinstall' | 'runtime') => decide({ env: { INIT_CWD: G, npm_config_user_agent: 'pnpm/12.21.0 npm/? node/v20.20.2 linux x64' }, pkgDir: `${LINKS}/acme-lib/2.3.4/h2/node_modules/acme-lib`, trigger, platform: 'linux', arch: 'x64', nodeVersion: '20.20.2', beaconVersion: '1.0.0', probes: fs.probes(), marker: fs.markerFs(), newId: () => 'id', now: 0 }).url;
    expect(at('postinstall')).toBe('https://e.com/acme-lib?direct=false');
  });
});

describe('the pieces', () => {
  it.each([
    ['/app/node_modules/acme-lib', 'acme-lib'],
    ['/app/node_modules/@acme/lib', '@acme/lib'],
    ['/app/node_modules/.pnpm/@acme+lib@1.0.0/node_modules/@acme/lib', '@acme/lib'],
    ['C:\\app\\node_modules\\acme-lib', 'acme-lib'],
    ['/src/acme-lib', undefined],
  ])('installedName(%s) = %s', (dir, name) => {
    expect(installedName(dir)).toBe(name);
  });

  it.each([
    [{ dependencies: { 'acme-lib': '2' } }, ['acme-lib']],
    [{ devDependencies: { acme: 'npm:acme-lib@2' } }, ['acme']],
    [{ dependencies: { acme: 'npm:acme-lib' } }, ['acme']],
    [{ dependencies: { acme: 'npm:acme-libx@2' } }, []],
    [{ dependencies: ['acme-lib'] }, []],
    [{ imports: { 'acme-lib': 'npm:acme-lib@^2' } }, ['acme-lib']],
    [{ imports: { 'acme-lib': './vendor/acme.ts' } }, []],
    [null, []],
  ])('namesAskingFor(%j) = %j', (manifest, names) => {
    expect(namesAskingFor(manifest, 'acme-lib', 'acme-lib')).toEqual(names);
  });

  it.each([
    ["packages:\n  - 'packages/*'\n  - \"apps/**\"\n  - tools/cli # the CLI\n  - '!**/test/**'\n", ['packages/*', 'apps/**', 'tools/cli', '!**/test/**']],
    ['packages:\n- packages/*\nonlyBuiltDependencies:\n  - acme-lib\n', ['packages/*']],
    ['onlyBuiltDependencies:\n  - acme-lib\n', []],
    [undefined, []],
  ])('pnpmWorkspacePatterns(%j)', (yaml, patterns) => {
    expect(pnpmWorkspacePatterns(yaml)).toEqual(patterns);
  });

  it('workspaceMembers never walks node_modules or dot folders', () => {
    const fs = new MemFs({ '/m/package.json': {}, '/m/packages/a/package.json': {}, '/m/packages/a/node_modules/x/package.json': {}, '/m/.git/packages/b/package.json': {}, '/m/other/c/package.json': {} });
    expect(workspaceMembers('/m', { workspaces: ['packages/**'] }, fs.probes())).toEqual(['/m/packages/a']);
    expect(fs.calls.some((c) => c.includes('node_modules') || c.includes('.git') || c.startsWith('listDir /m/other'))).toBe(false);
  });
});

describe('decide: {direct} is computed only when the template names it', () => {
  const tree = (url: string) => new MemFs({
    '/app/package.json': pkg('app', { 'acme-lib': '^2' }),
    [`${NPM}/package.json`]: { ...lib(), installBeacon: { url } },
  });
  const input = (fs: MemFs) => ({
    env: { npm_config_user_agent: 'npm/11.19.1 node/v20.20.2 linux x64' }, pkgDir: NPM, trigger: 'postinstall' as const, platform: 'linux', arch: 'x64', nodeVersion: '20.20.2',
    beaconVersion: '1.0.0', probes: fs.probes(), marker: fs.markerFs(), newId: () => 'id', now: 0,
  });

  it('sends direct=true for a listed dependency', () => {
    const d = decide(input(tree('https://e.com/{name}?direct={direct}')));
    expect(d.url).toBe('https://e.com/acme-lib?direct=true');
  });

  it('reads no other package and resolves no link without {direct}', () => {
    const fs = tree('https://e.com/{name}?pm={pm}');
    decide(input(fs));
    expect(fs.calls.filter((c) => c.startsWith('realpath') || c.startsWith('listDir'))).toEqual([]);
  });
});
