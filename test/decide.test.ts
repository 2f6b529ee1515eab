import { describe, expect, it } from 'vitest';
import { claimInstall, decide, projectRoots, type DecideInput } from '../src/decide.js';
import { installSite } from '../src/layout.js';
import { claim, finish } from '../src/marker.js';
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

const NO_URL = 'no URL template: set "installBeacon": {"url": "https://..."} in package.json or pass it as "install-beacon <url>"';
const NOT_OBJECT = '"installBeacon" must be an object (or a URL string)';
const UNKNOWN_X = '"installBeacon.url": unknown variable {x}; known: {name} {version} {platform} {arch} {node} {ci} {ci_name} {container} {pm} {pm_version} {install} {direct} {libc} {libc_version} {trigger} {event_id} {beacon_version}';
const COLOUR = 'unknown key "installBeacon.colour" is ignored (known: url, ci, delivery, timeoutMs, enabled)';
const NOT_HTTPS = 'the URL argument: the URL template must start with https:// (or http:// for a loopback host)';
const NO_PKG = ['package.json is missing or not valid JSON'];
const CI_OFF = { [`${PKG}/package.json`]: acme({ url: 'https://e.com/', ci: false }) };

describe('decide: each rule', () => {
  // The whole head of the decision: whether it sends, which rule, the sentence
  // `explain` prints, and the problems `check` lists. A skip rule that sent, or
  // a reason that lost its facts, fails here.
  it.each([
    ['DO_NOT_TRACK=1', {}, env({ DO_NOT_TRACK: '1' }), 'env-opt-out', 'DO_NOT_TRACK=1 is set', undefined],
    ['SCARF_ANALYTICS=false', {}, env({ SCARF_ANALYTICS: 'false' }), 'env-opt-out', 'SCARF_ANALYTICS=false is set', undefined],
    ['SCARF_NO_ANALYTICS=1', {}, env({ SCARF_NO_ANALYTICS: '1' }), 'env-opt-out', 'SCARF_NO_ANALYTICS=1 is set', undefined],
    ['INSTALL_BEACON_DISABLED=yes', {}, env({ INSTALL_BEACON_DISABLED: 'yes' }), 'env-opt-out', 'INSTALL_BEACON_DISABLED=yes is set', undefined],
    ["the author's own install", { '/src/acme-lib/package.json': acme() }, { pkgDir: '/src/acme-lib' }, 'self-install', "/src/acme-lib is not inside node_modules (the author's own install)", undefined],
    ['no package.json', { [`${PKG}/package.json`]: undefined }, {}, 'config', `cannot read ${PKG}/package.json`, NO_PKG],
    ['malformed package.json', { [`${PKG}/package.json`]: '{oops' }, {}, 'config', `cannot read ${PKG}/package.json`, NO_PKG],
    ['no installBeacon config', { [`${PKG}/package.json`]: { name: 'acme-lib', version: '1.0.0' } }, {}, 'config', `invalid configuration: ${NO_URL}`, [NO_URL]],
    ['a non-object installBeacon', { [`${PKG}/package.json`]: acme(42) }, {}, 'config', `invalid configuration: ${NOT_OBJECT}`, [NOT_OBJECT]],
    ['an invalid template (and an unknown key: errors, then warnings)', { [`${PKG}/package.json`]: acme({ url: 'http://e.com/{x}', colour: 'red' }) }, {}, 'config', `invalid configuration: ${UNKNOWN_X}`, [UNKNOWN_X, COLOUR]],
    ['an invalid positional template', {}, { positional: 'ftp://x' }, 'config', `invalid configuration: ${NOT_HTTPS}`, [NOT_HTTPS]],
    ['the author disabled it', { [`${PKG}/package.json`]: acme({ url: 'https://e.com/', enabled: false }) }, {}, 'config', 'the author set "installBeacon.enabled" to false', []],
    ['the project opted out', { '/app/package.json': { installBeacon: { enabled: false } } }, {}, 'project-opt-out', 'the project\'s package.json (/app) has "installBeacon": {"enabled": false}', []],
    ["the project opted out with Scarf's setting", { '/app/package.json': { scarfSettings: { enabled: false } } }, {}, 'project-opt-out', 'the project\'s package.json (/app) has "scarfSettings": {"enabled": false}', []],
    ['the machine opted out', { '/home/u/.config/install-beacon/disabled': '' }, {}, 'machine-opt-out', 'this user account opted out (/home/u/.config/install-beacon/disabled, from "install-beacon disable")', []],
    ['npm offline', {}, env({ npm_config_offline: 'true' }), 'offline', 'npm runs in offline mode (npm_config_offline)', []],
    ['CI (no vendor) with "ci": false', CI_OFF, env({ CI: 'true' }), 'ci-disabled', 'a CI install and the author set "ci": false', []],
    ['GitHub Actions with "ci": false', CI_OFF, env({ GITHUB_ACTIONS: 'true' }), 'ci-disabled', 'a CI install (github-actions) and the author set "ci": false', []],
    ['CI with the default "ci": true', {}, env({ CI: 'true' }), 'send', 'no opt-out or skip rule applies', []],
    ['no opt-out at all', {}, {}, 'send', 'no opt-out or skip rule applies', []],
    ['an unknown config key (a warning, not a skip)', { [`${PKG}/package.json`]: acme({ url: 'https://e.com/', colour: 'red' }) }, {}, 'send', 'no opt-out or skip rule applies', [COLOUR]],
    ['a malformed root package.json', { '/app/package.json': '{' }, {}, 'send', 'no opt-out or skip rule applies', []],
    ['an INIT_CWD that does not exist', {}, env({ INIT_CWD: '/nowhere' }), 'send', 'no opt-out or skip rule applies', []],
    ['DO_NOT_TRACK=0', {}, env({ DO_NOT_TRACK: '0' }), 'send', 'no opt-out or skip rule applies', []],
  ] as const)('%s', (_name, files, overrides, rule, reason, problems) => {
    const d = run(files as Record<string, unknown>, overrides as Partial<DecideInput>);
    expect({ send: d.send, rule: d.rule, reason: d.reason, problems: d.problems }).toEqual({ send: rule === 'send', rule, reason, problems });
  });

  it.each([
    ['an empty name and version', { name: '', version: '' }, 'unknown', 'unknown'],
    ['a number', { name: 42, version: 7 }, 'unknown', 'unknown'],
    ['an array (has a length, is not a name)', { name: ['x'], version: ['1'] }, 'unknown', 'unknown'],
    ['missing', {}, 'unknown', 'unknown'],
    ['a one-letter name', { name: 'a', version: '1' }, 'a', '1'],
  ])('name and version: %s → %s@%s', (_n, meta, name, version) => {
    const d = run({ [`${PKG}/package.json`]: { ...meta, installBeacon: { url: 'https://e.com/{name}/{version}' } } });
    expect({ rule: d.rule, name: d.name, version: d.version, url: d.url }).toEqual({ rule: 'send', name, version, url: `https://e.com/${name}/${version}` });
  });

  it('skips a re-run of the same install (npm rebuild)', () => {
    const { fs, input } = setup();
    const first = decide(input);
    expect(first.send).toBe(true);
    expect(claim(first.marker, fs.markerFs(), 0, first.pkgMtimeMs!).result).toBe('claimed');
    const again = decide(input);
    expect({ send: again.send, rule: again.rule, reason: again.reason }).toEqual({
      send: false,
      rule: 'already-reported',
      reason: 'this install already reported; re-runs such as npm rebuild send nothing (a fresh install, e.g. npm ci, reports again)',
    });
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

  // The hook's background delivery leaves {direct}, {libc} and {libc_version} to the detached sender
  // (hook.ts backgroundSend): the install never waits for the files they read.
  const LATE_URL = 'https://e.com/{name}?d={direct}&l={libc}&v={libc_version}&p={platform}';
  it.each([
    ['background, deferLate', 'background', true, {}, false, ['direct', 'libc', 'libc_version'], 'https://e.com/acme-lib?d=%01direct%01&l=%01libc%01&v=%01libc_version%01&p=linux'],
    ['auto outside CI and containers, deferLate', 'auto', true, {}, false, ['direct', 'libc', 'libc_version'], 'https://e.com/acme-lib?d=%01direct%01&l=%01libc%01&v=%01libc_version%01&p=linux'],
    // auto in a container or CI resolves to inline: computed here after all.
    ['auto in a container, deferLate', 'auto', true, {}, true, undefined, 'https://e.com/acme-lib?d=true&l=glibc&v=unknown&p=linux'],
    ['auto in CI, deferLate', 'auto', true, { CI: 'true' }, false, undefined, 'https://e.com/acme-lib?d=true&l=glibc&v=unknown&p=linux'],
    ['inline, deferLate', 'inline', true, {}, false, undefined, 'https://e.com/acme-lib?d=true&l=glibc&v=unknown&p=linux'],
    // reportInstall, explain and debug never defer.
    ['background, no deferLate', 'background', false, {}, false, undefined, 'https://e.com/acme-lib?d=true&l=glibc&v=unknown&p=linux'],
  ])('late variables: %s', (_name, delivery, deferLate, extraEnv, docker, late, url) => {
    const { fs, input } = setup({ [`${PKG}/package.json`]: acme({ url: LATE_URL, delivery }) }, { ...env(extraEnv as Record<string, string>), deferLate, execPath: '/usr/bin/node' }, docker);
    const d = decide(input);
    expect(d).toMatchObject({ send: true, url });
    expect(d.late).toEqual(late);
    // Deferred: neither Node's executable nor the project's manifests were read for them.
    const read = (c: string) => c.startsWith('readBytes') || c === 'readJson /app/deno.json';
    expect(fs.calls.some(read)).toBe(!late);
    expect(Object.keys(d.values!).sort()).toEqual(late ? ['name', 'platform'] : ['direct', 'libc', 'libc_version', 'name', 'platform']);
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
    const probes = { readJson: (p: string) => (p === '/m/package.json' ? { workspaces: { packages: ['apps/**'] } } : undefined), readText: () => undefined };
    expect(projectRoots(installSite('/m/apps/web/node_modules/a'), probes)).toEqual(['/m/apps/web', '/m']);
    expect(projectRoots(installSite('/m/node_modules/a'), probes)).toEqual(['/m']);
    expect(projectRoots(undefined, probes)).toEqual([]);
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

describe('decide and claimInstall: the package.json mtime tells a reinstall from a re-run', () => {
  it('a re-run after the report sends nothing; a reinstall (a newer package.json) sends and claims the marker again, once', () => {
    const { fs, input } = setup();
    fs.mtimes.set(`${PKG}/package.json`, 1000);
    const first = decide({ ...input, now: 1500 });
    expect(first).toMatchObject({ send: true, pkgMtimeMs: 1000 });
    fs.clock = 2000;
    expect(claimInstall(first, fs.markerFs(), 2000)).toEqual({ result: 'claimed', location: first.marker });
    finish(first.marker!, fs.markerFs(), { trigger: 'postinstall', status: 204, at: 2000 });
    expect(decide({ ...input, now: 3000 })).toMatchObject({ send: false, rule: 'already-reported', pkgMtimeMs: 1000 });

    fs.clock = 5000;
    fs.write(`${PKG}/package.json`, JSON.stringify(acme()));
    const reinstall = decide({ ...input, now: 6000 });
    expect(reinstall).toMatchObject({ send: true, rule: 'send', pkgMtimeMs: 5000 });
    expect(claimInstall(reinstall, fs.markerFs(), 6000).result).toBe('claimed');
    expect(claimInstall(reinstall, fs.markerFs(), 6000).result).toBe('taken');
  });

  it('a package.json that cannot be stat-ed (removed after it was read) counts as mtime 0', () => {
    const { fs, input } = setup();
    fs.mtimes.set(`${PKG}/package.json`, 1000);
    const markerFs = fs.markerFs();
    const d = decide({ ...input, marker: { ...markerFs, stat: (f) => (f === `${PKG}/package.json` ? undefined : markerFs.stat(f)) } });
    expect(d).toMatchObject({ send: true, pkgMtimeMs: 0 });
  });

  it('a package in no installed tree (explain in the author\'s repo) has no marker: claimInstall says unwritable', () => {
    const d = run({ '/src/acme-lib/package.json': acme() }, { pkgDir: '/src/acme-lib', asDependency: true, env: {} });
    expect(d).toMatchObject({ send: true, site: undefined, marker: undefined });
    const { fs } = setup();
    expect(claimInstall(d, fs.markerFs(), 0)).toEqual({ result: 'unwritable' });
    expect(fs.calls).toEqual([]);
  });
});

describe('decide: the package manager without a user agent (runtime trigger, explain)', () => {
  const PNPM = '/app/node_modules/.pnpm/acme-lib@2.3.4/node_modules/acme-lib';
  const template = { url: 'https://e.com/?pm={pm}&v={pm_version}' };
  it.each([
    ['a pnpm store path, pnpm 10 metadata', PNPM, { '/app/node_modules/.modules.yaml': '{\n  "packageManager": "pnpm@10.34.9",\n}' }, {}, { pm: 'pnpm', pm_version: '10.34.9' }],
    ['a hoisted tree with package-lock.json', PKG, { '/app/package-lock.json': '{}' }, {}, { pm: 'npm', pm_version: 'unknown' }],
    ['a user agent wins over the tree', PNPM, {}, { npm_config_user_agent: 'npm/11.19.1 node/v20.20.2 linux x64' }, { pm: 'npm', pm_version: '11.19.1' }],
    ['a package in no installed tree (asDependency) and no lockfile', '/src/acme-lib', {}, {}, { pm: 'unknown', pm_version: 'unknown' }],
  ])('%s', (_n, pkgDir, files, agent, values) => {
    const { fs, input } = setup({ [`${pkgDir}/package.json`]: acme(template), ...files }, { pkgDir, env: agent, trigger: 'runtime', asDependency: true });
    const d = decide(input);
    expect(d.values).toEqual(values);
    // {pm} and {pm_version} come from one look at the tree, not two.
    const reads = fs.calls.filter((c) => c.startsWith('readText') || c.startsWith('exists'));
    expect(reads).toEqual([...new Set(reads)]);
  });
});

describe('projectRoots: every layout looks for an enclosing workspace root (issue 19, item 2)', () => {
  // npm, yarn 1 and bun read workspaces from package.json and leave a member's
  // unhoistable copies in the member's node_modules; pnpm reads
  // pnpm-workspace.yaml, and with shared-workspace-lockfile=false a member has
  // its own .pnpm store, with node-linker=hoisted its own unhoistable copies.
  const read = (p: string) => (p === '/m/package.json' ? { workspaces: ['apps/*'] } : undefined);
  const none = () => undefined;
  const yaml = (p: string) => (p === '/p/pnpm-workspace.yaml' ? "packages:\n  - 'apps/*'\n  - '!apps/skip'\n" : undefined);
  it.each([
    ['node_modules', '/m/apps/web/node_modules/a', read, none, ['/m/apps/web', '/m']],
    ['pnpm, the root lists members in package.json', '/m/apps/web/node_modules/.pnpm/a@1.0.0/node_modules/a', read, none, ['/m/apps/web', '/m']],
    ['pnpm, a member with its own lockfile', '/p/apps/web/node_modules/.pnpm/a@1.0.0/node_modules/a', none, yaml, ['/p/apps/web', '/p']],
    ['pnpm hoisted, a copy left in the member', '/p/apps/web/node_modules/a', none, yaml, ['/p/apps/web', '/p']],
    ['pnpm, a folder the yaml excludes', '/p/apps/skip/node_modules/a', none, yaml, ['/p/apps/skip']],
    ['yarn PnP', '/m/apps/web/.yarn/unplugged/a-npm-1.0.0-x/node_modules/a', read, none, ['/m/apps/web', '/m']],
  ])('%s', (_n, pkgDir, readJson, readText, roots) => {
    expect(projectRoots(installSite(pkgDir), { readJson, readText })).toEqual(roots);
  });

  it('a tree at the file-system root reads /package.json', () => {
    const d = run({ '/node_modules/acme-lib/package.json': acme(), '/package.json': { installBeacon: { enabled: false } } }, { pkgDir: '/node_modules/acme-lib' });
    expect(d.rule).toBe('project-opt-out');
  });
});
