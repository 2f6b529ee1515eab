import { describe, expect, it } from 'vitest';
import { decide, projectRoots, type DecideInput } from '../src/decide.js';
import { installSite } from '../src/layout.js';
import { claim } from '../src/marker.js';
import { VARIABLES } from '../src/template.js';
import { MemFs } from './support/memfs.js';

const PKG = '/app/node_modules/acme-lib';
const ALL_VARS = VARIABLES.map((v) => `${v}={${v}}`).join('&');
const acme = (installBeacon: unknown = { url: `https://e.com/{name}/{version}?${ALL_VARS}` }) => ({ name: 'acme-lib', version: '2.3.4', installBeacon });

function setup(files: Record<string, unknown> = {}, overrides: Partial<DecideInput> = {}, docker = false) {
  const fs = new MemFs({ '/app/package.json': { name: 'app' }, [`${PKG}/package.json`]: acme(), ...files });
  const input: DecideInput = {
    env: { INIT_CWD: '/app', npm_config_user_agent: 'npm/11.19.1 node/v20.20.2 linux x64' },
    pkgDir: PKG,
    trigger: 'postinstall',
    platform: 'linux',
    arch: 'x64',
    nodeVersion: '20.20.2',
    beaconVersion: '1.0.0',
    machineOptOutFile: '/home/u/.config/install-beacon/disabled',
    probes: fs.probes(docker),
    marker: fs.markerFs(),
    newId: () => 'id-1',
    now: 0,
    ...overrides,
  };
  return { fs, input };
}

const run = (files: Record<string, unknown> = {}, overrides: Partial<DecideInput> = {}, docker = false) => decide(setup(files, overrides, docker).input);
const env = (extra: Record<string, string>) => ({ env: { INIT_CWD: '/app', ...extra } });

describe('decide: each rule', () => {
  it.each([
    ['DO_NOT_TRACK=1', {}, env({ DO_NOT_TRACK: '1' }), 'env-opt-out'],
    ['SCARF_ANALYTICS=false', {}, env({ SCARF_ANALYTICS: 'false' }), 'env-opt-out'],
    ['SCARF_NO_ANALYTICS=1', {}, env({ SCARF_NO_ANALYTICS: '1' }), 'env-opt-out'],
    ['INSTALL_BEACON_DISABLED=yes', {}, env({ INSTALL_BEACON_DISABLED: 'yes' }), 'env-opt-out'],
    ["the author's own install", { '/src/acme-lib/package.json': acme() }, { pkgDir: '/src/acme-lib' }, 'self-install'],
    ['no package.json', { [`${PKG}/package.json`]: undefined }, {}, 'config'],
    ['malformed package.json', { [`${PKG}/package.json`]: '{oops' }, {}, 'config'],
    ['no installBeacon config', { [`${PKG}/package.json`]: { name: 'acme-lib', version: '1.0.0' } }, {}, 'config'],
    ['a non-object installBeacon', { [`${PKG}/package.json`]: acme(42) }, {}, 'config'],
    ['an invalid template', { [`${PKG}/package.json`]: acme({ url: 'http://e.com/{x}' }) }, {}, 'config'],
    ['an invalid positional template', {}, { positional: 'ftp://x' }, 'config'],
    ['the author disabled it', { [`${PKG}/package.json`]: acme({ url: 'https://e.com/', enabled: false }) }, {}, 'config'],
    ['the project opted out', { '/app/package.json': { installBeacon: { enabled: false } } }, {}, 'project-opt-out'],
    ["the project opted out with Scarf's setting", { '/app/package.json': { scarfSettings: { enabled: false } } }, {}, 'project-opt-out'],
    ['the machine opted out', { '/home/u/.config/install-beacon/disabled': '' }, {}, 'machine-opt-out'],
    ['npm offline', {}, env({ npm_config_offline: 'true' }), 'offline'],
    ['CI with "ci": false', { [`${PKG}/package.json`]: acme({ url: 'https://e.com/', ci: false }) }, env({ CI: 'true' }), 'ci-disabled'],
    ['CI with the default "ci": true', {}, env({ CI: 'true' }), 'send'],
    ['no opt-out at all', {}, {}, 'send'],
    ['a malformed root package.json', { '/app/package.json': '{' }, {}, 'send'],
    ['an INIT_CWD that does not exist', {}, env({ INIT_CWD: '/nowhere' }), 'send'],
    ['DO_NOT_TRACK=0', {}, env({ DO_NOT_TRACK: '0' }), 'send'],
  ])('%s → %s', (_name, files, overrides, rule) => {
    expect(run(files as Record<string, unknown>, overrides as Partial<DecideInput>).rule).toBe(rule);
  });

  it('skips a re-run of the same install (npm rebuild)', () => {
    const { fs, input } = setup();
    const first = decide(input);
    expect(first.send).toBe(true);
    expect(claim(first.marker, fs.markerFs(), 0, first.pkgMtimeMs!).result).toBe('claimed');
    expect(decide(input).rule).toBe('already-reported');
  });

  it('checks environment opt-outs before reading any file', () => {
    const { fs, input } = setup({}, env({ DO_NOT_TRACK: '1' }));
    decide(input);
    expect(fs.calls).toEqual([]);
  });

  it('orders the rules: an env opt-out beats everything, project beats offline, offline beats CI', () => {
    expect(run({ '/app/package.json': { installBeacon: { enabled: false } } }, env({ DO_NOT_TRACK: '1', npm_config_offline: 'true' })).rule).toBe('env-opt-out');
    expect(run({ '/app/package.json': { installBeacon: { enabled: false } } }, env({ npm_config_offline: 'true' })).rule).toBe('project-opt-out');
    expect(run({ [`${PKG}/package.json`]: acme({ url: 'https://e.com/', ci: false }) }, env({ npm_config_offline: 'true', CI: '1' })).rule).toBe('offline');
  });

  it('renders the URL for a skip only when asked (explain), and never for an env opt-out', () => {
    const project = { '/app/package.json': { installBeacon: { enabled: false } } };
    expect(run(project).url).toBeUndefined();
    const explained = run(project, { describeSkips: true });
    expect(explained.rule).toBe('project-opt-out');
    expect(explained.url).toMatch(/^https:\/\/e\.com\/acme-lib\/2\.3\.4\?/);
    expect(run({}, { ...env({ DO_NOT_TRACK: '1' }), describeSkips: true }).url).toBeUndefined();
  });

  it('uses the positional template over package.json', () => {
    const d = run({}, { positional: 'https://other.example/{name}' });
    expect(d.url).toBe('https://other.example/acme-lib');
  });

  it('treats the author package as a dependency for explain (asDependency)', () => {
    const d = run({ '/src/acme-lib/package.json': acme() }, { pkgDir: '/src/acme-lib', asDependency: true });
    expect(d.send).toBe(true);
  });

  it('without INIT_CWD, reads the project above node_modules', () => {
    expect(run({ '/app/package.json': { installBeacon: { enabled: false } } }, { env: {} }).rule).toBe('project-opt-out');
  });
});

describe('decide: the event', () => {
  it('fills every template variable', () => {
    const d = run({}, env({ GITHUB_ACTIONS: 'true', CI: 'true', npm_config_user_agent: 'pnpm/10.34.9 npm/? node/v20.20.2 linux x64' }), true);
    expect(d.values).toEqual({
      name: 'acme-lib', version: '2.3.4', platform: 'linux', arch: 'x64', node: '20.20.2', ci: 'true', ci_name: 'github-actions',
      container: 'docker', pm: 'pnpm', pm_version: '10.34.9', install: 'local', direct: 'true', libc: 'glibc', libc_version: 'unknown', trigger: 'postinstall', event_id: 'id-1', beacon_version: '1.0.0',
    });
    expect(d.url).toBe(`https://e.com/acme-lib/2.3.4?${VARIABLES.map((v) => `${v}=${encodeURIComponent(d.values![v]!)}`).join('&')}`);
  });

  it('computes only the variables the template uses', () => {
    const { fs, input } = setup({ [`${PKG}/package.json`]: acme({ url: 'https://e.com/{name}', delivery: 'background' }) });
    const d = decide(input);
    expect(d.values).toEqual({ name: 'acme-lib' });
    expect(fs.calls.some((c) => c.startsWith('listDir') || c === 'isDocker')).toBe(false);
  });

  it.each([
    ['auto, not CI, no container', 'auto', {}, false, 'background'],
    ['auto, CI', 'auto', { CI: 'true' }, false, 'inline'],
    ['auto, container', 'auto', {}, true, 'inline'],
    ['auto, kubernetes', 'auto', { KUBERNETES_SERVICE_HOST: 'k' }, false, 'inline'],
    ['background in CI', 'background', { CI: 'true' }, true, 'background'],
    ['inline outside CI', 'inline', {}, false, 'inline'],
  ])('delivery: %s → %s', (_n, delivery, extraEnv, docker, expected) => {
    const d = run({ [`${PKG}/package.json`]: acme({ url: 'https://e.com/{name}', delivery }) }, env(extraEnv as Record<string, string>), docker);
    expect(d.delivery).toBe(expected);
  });

  it('encodes hostile metadata so no value leaves its segment', () => {
    const d = run({ [`${PKG}/package.json`]: { name: '../../x?y#z', version: '1.0.0\r\nHost: evil', installBeacon: { url: 'https://e.com/{name}/{version}?n={name}' } } });
    expect(d.url).toBe('https://e.com/..%2F..%2Fx%3Fy%23z/1.0.0%0D%0AHost%3A%20evil?n=..%2F..%2Fx%3Fy%23z');
  });

  it('reports unknown config keys as problems without skipping', () => {
    const d = run({ [`${PKG}/package.json`]: acme({ url: 'https://e.com/', colour: 'red' }) });
    expect(d.send).toBe(true);
    expect(d.problems).toEqual([expect.stringContaining('installBeacon.colour')]);
  });
});

describe('the project opt-out: from where the package was installed, never from INIT_CWD', () => {
  const OFF = { installBeacon: { enabled: false } };
  it.each([
    ['npm started in a subfolder (INIT_CWD=/app/src)', { '/app/package.json': OFF }, { env: { INIT_CWD: '/app/src' } }, 'project-opt-out'],
    ['npm install --prefix /app from elsewhere', { '/app/package.json': OFF }, { env: { INIT_CWD: '/home/u' } }, 'project-opt-out'],
    ['INIT_CWD names an opted-out project the package was not installed into', { '/other/package.json': OFF }, { env: { INIT_CWD: '/other' } }, 'send'],
    ['a workspace member: hoisted into the root', { '/app/package.json': { workspaces: ['packages/*'], ...OFF }, '/app/packages/web/package.json': {} }, { env: { INIT_CWD: '/app/packages/web' } }, 'project-opt-out'],
    [
      "a workspace member's own node_modules (not hoistable): the root's opt-out covers it",
      { '/app/package.json': { workspaces: ['packages/*'], ...OFF }, '/app/packages/web/package.json': {}, '/app/packages/web/node_modules/acme-lib/package.json': acme() },
      { pkgDir: '/app/packages/web/node_modules/acme-lib', env: { INIT_CWD: '/app/packages/web' } },
      'project-opt-out',
    ],
    [
      'a folder inside a monorepo that is not a member: only its own package.json counts',
      { '/app/package.json': { workspaces: ['packages/*'], ...OFF }, '/app/tools/x/package.json': {}, '/app/tools/x/node_modules/acme-lib/package.json': acme() },
      { pkgDir: '/app/tools/x/node_modules/acme-lib' },
      'send',
    ],
    ['a global prefix (no package.json): no project opt-out, whatever the cwd', { '/usr/lib/node_modules/acme-lib/package.json': acme(), '/home/u/package.json': OFF }, { pkgDir: '/usr/lib/node_modules/acme-lib', env: { INIT_CWD: '/home/u' } }, 'send'],
    [
      'yarn PnP, unplugged',
      { '/app/package.json': OFF, '/app/.yarn/unplugged/acme-lib-npm-2.3.4-x/node_modules/acme-lib/package.json': acme() },
      { pkgDir: '/app/.yarn/unplugged/acme-lib-npm-2.3.4-x/node_modules/acme-lib', env: {} },
      'project-opt-out',
    ],
  ] as const)('%s → %s', (_n, files, overrides, rule) => {
    expect(run(files as unknown as Record<string, unknown>, overrides as Partial<DecideInput>).rule).toBe(rule);
  });

  it('yarn 4 global cache: the project is the one whose .pnp.cjs serves the package, not HOME', () => {
    const pkgDir = '/home/u/.yarn/berry/cache/acme-lib-npm-2.3.4-x-10c0.zip/node_modules/acme-lib';
    const files = { [`${pkgDir}/package.json`]: acme(), '/home/u/package.json': {}, '/work/app/package.json': OFF };
    const { fs, input } = setup(files, { pkgDir, env: { INIT_CWD: '/home/u' } });
    const probes = { ...fs.probes(), pnpFileFor: (p: string) => (p === pkgDir ? '/work/app/.pnp.cjs' : undefined) };
    const d = decide({ ...input, probes });
    expect(d.rule).toBe('project-opt-out');
    expect(fs.calls).not.toContain('readJson /home/u/package.json');
    fs.files.set('/work/app/package.json', '{}');
    const sent = decide({ ...input, probes });
    expect(sent.rule).toBe('send');
    expect(sent.marker!.dir).toBe('/work/app/.yarn/.install-beacon');
  });

  it('projectRoots: the project, then the workspace root listing it', () => {
    const read = (p: string) => (p === '/m/package.json' ? { workspaces: { packages: ['apps/**'] } } : undefined);
    expect(projectRoots(installSite('/m/apps/web/node_modules/a'), read)).toEqual(['/m/apps/web', '/m']);
    expect(projectRoots(installSite('/m/node_modules/a'), read)).toEqual(['/m']);
    expect(projectRoots(undefined, read)).toEqual([]);
  });
});

describe('decide: one event per name@version per tree', () => {
  it('a second copy of the same version elsewhere in the tree is already reported; another version is not', () => {
    const nested = '/app/node_modules/mid-a/node_modules/acme-lib';
    const other = '/app/node_modules/mid-b/node_modules/acme-lib';
    const { fs, input } = setup({ [`${nested}/package.json`]: acme(), [`${other}/package.json`]: { ...acme(), version: '2.3.5' } });
    const first = decide({ ...input, pkgDir: nested });
    expect(claim(first.marker, fs.markerFs(), 0, first.pkgMtimeMs!).result).toBe('claimed');
    expect(decide(input).rule).toBe('already-reported');
    expect(decide({ ...input, pkgDir: other }).rule).toBe('send');
  });
});
