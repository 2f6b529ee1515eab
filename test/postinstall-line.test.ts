import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startCollector, type Collector } from './support/collector.js';
import { NPM, NPM_LOCAL, npmLocal, packAcme, packBeacon, REPORTING_MAIN, writeProject } from './support/fixture.js';
import { baseEnv, BIN, run, TempDirs } from './support/process.js';

// The postinstall line the README tells authors to write, installed for real
// with npm's bin links turned off: the one setup where the `install-beacon`
// command does not exist when the script runs. The install must still exit 0,
// and the runtime trigger then counts the install on first use.

/** The README's line (README.md, "For package authors"). */
const README_LINE = 'install-beacon || exit 0';

const temps = new TempDirs();
let collector: Collector;
let tarballs: string;
let beacon: string;
let home: string;

beforeAll(async () => {
  collector = await startCollector();
  tarballs = temps.make('ib-line-tarballs-');
  home = temps.make('ib-line-home-');
  beacon = packBeacon(tarballs);
}, 120_000);
afterAll(async () => {
  await collector.close();
  temps.cleanup();
});
beforeEach(() => {
  collector.requests.length = 0;
});

const url = () => `${collector.base}/{name}/{version}?trigger={trigger}`;
const npm = (cwd: string, args: string[], extra: Record<string, string | undefined> = {}) => npmLocal(cwd, args, home, extra);

function project(): string {
  const dir = join(temps.make('ib-line-app-'), 'app');
  writeProject(dir);
  return dir;
}

/** acme-lib with `postinstall`, calling reportInstall() from its main module. */
const acmeWith = (postinstall: string, dependencies: Record<string, string> = { 'install-beacon': '^1.0.0' }) =>
  packAcme(tarballs, {
    postinstall,
    installBeacon: { url: url(), delivery: 'inline' },
    extra: { dependencies },
    main: REPORTING_MAIN,
  });

/** mid-a (packed), a package that depends on `acme` (a tarball): install-beacon is reachable only as a nested dependency. */
function midA(acme: string): string {
  const dir = join(temps.make('ib-line-mid-'), 'mid-a');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'mid-a', version: '1.0.0', main: 'index.js', dependencies: { 'acme-lib': `file:${acme}` } }));
  writeFileSync(join(dir, 'index.js'), "module.exports = require('acme-lib');\n");
  execFileSync(NPM, ['pack', dir, '--pack-destination', dir, '--silent'], { encoding: 'utf8' });
  return join(dir, 'mid-a-1.0.0.tgz');
}

describe(`the README's postinstall line ("${README_LINE}") with bin links off`, () => {
  it('npm install --no-bin-links: exit 0, and the first program run counts the install (trigger=runtime)', async () => {
    const app = project();
    const r = await npm(app, ['install', '--no-bin-links', beacon, acmeWith(README_LINE)]);
    expect(r.code).toBe(0);
    expect(existsSync(join(app, 'node_modules', 'acme-lib', 'package.json'))).toBe(true);
    expect(existsSync(join(app, 'node_modules', '.bin'))).toBe(false);
    expect(collector.requests).toHaveLength(0);
    const program = await run(process.execPath, ['-e', "require('acme-lib')"], { cwd: app, env: { PATH: process.env.PATH ?? '', HOME: home } });
    expect(program.code).toBe(0);
    await collector.waitFor(1, 10_000);
    expect(collector.requests.map((q) => `${q.path}?trigger=${q.query.trigger}`)).toEqual(['/acme-lib/2.3.4?trigger=runtime']);
  });

  it('npm_config_bin_links=false, install-beacon only a nested dependency (app -> mid-a -> acme-lib -> install-beacon): exit 0', async () => {
    const acme = acmeWith(README_LINE, { 'install-beacon': `file:${beacon}` });
    const app = project();
    const r = await npm(app, ['install', midA(acme)], { npm_config_bin_links: 'false' });
    expect(r.code).toBe(0);
    expect(JSON.parse(readFileSync(join(app, 'node_modules', 'acme-lib', 'package.json'), 'utf8')).scripts.postinstall).toBe(README_LINE);
    expect(existsSync(join(app, 'node_modules', 'install-beacon', 'package.json'))).toBe(true);
  });

  it('with bin links on, the same line reports from the postinstall (trigger=postinstall)', async () => {
    const app = project();
    const r = await npm(app, ['install', beacon, acmeWith(README_LINE)]);
    expect(r.code).toBe(0);
    await collector.waitFor(1, 10_000);
    expect(collector.requests.map((q) => `${q.path}?trigger=${q.query.trigger}`)).toEqual(['/acme-lib/2.3.4?trigger=postinstall']);
  });

  it('why the line has "|| exit 0": a bare "install-beacon" fails the same install (sh: not found, 127)', async () => {
    const app = project();
    const r = await npm(app, ['install', '--no-bin-links', beacon, acmeWith('install-beacon')]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/install-beacon: (not found|command not found)/);
  });
});

// Setups `check` once passed (exit 0) that fail a real install: each fails here, and check says why (exit 1).
describe('setups that fail installs are errors in check', () => {
  it.each([
    ['"npm run beacon" with a bare "beacon": "install-beacon" (--no-bin-links: sh: not found, 127)', { postinstall: 'npm run beacon', beacon: 'install-beacon' }, ['--no-bin-links'], 'error: "scripts.beacon": "install-beacon" fails the user\'s whole install'],
    ['"node node_modules/install-beacon/dist/bin.cjs" (hoisted: no such file, exit 1)', { postinstall: 'node node_modules/install-beacon/dist/bin.cjs' }, [], 'error: "scripts.postinstall": "node_modules/install-beacon/dist/bin.cjs" is not where install-beacon is in your users\' installs'],
  ])('%s', async (_name, scripts, flags, message) => {
    const acme = packAcme(tarballs, { installBeacon: { url: url(), delivery: 'inline' }, extra: { scripts } });
    const app = project();
    const r = await npm(app, ['install', ...flags, beacon, acme]);
    expect(r.code).not.toBe(0);
    // The failed install leaves no node_modules: check the package's own folder, as its author would.
    const check = await run(process.execPath, [BIN, 'check', dirname(acme)], { cwd: app, env: baseEnv(home) });
    expect(check.code).toBe(1);
    expect(check.stderr).toContain(message);
  });
});

const npmMajor = Number(execFileSync(NPM, ['--version'], { encoding: 'utf8' }).trim().split('.')[0]);

describe.skipIf(npmMajor !== 11)(`what npm 11 users see (README "What your users will see"; npm ${npmMajor} here${npmMajor !== 11 ? ', [skipped: needs npm 11]' : ''})`, () => {
  const allow = async (allowed: boolean | undefined) => {
    const acme = acmeWith(README_LINE);
    const app = project();
    // npm keys a tarball dependency by its file: spec (a registry package by its name).
    if (allowed !== undefined) writeProject(app, { allowScripts: { [`file:${acme}`]: allowed } });
    // npm's warnings are what is tested here: NPM_LOCAL's --loglevel=error would hide them.
    const flags = NPM_LOCAL.filter((f) => !f.startsWith('--loglevel'));
    const r = await run(NPM, ['install', beacon, acme, ...flags, '--loglevel=warn'], { cwd: app, env: baseEnv(home, { npm_config_cache: join(home, 'npm-cache') }), timeoutMs: 120_000 });
    expect(r.code).toBe(0);
    return r;
  };

  it('every install ends with a warning that names the line', async () => {
    const r = await allow(undefined);
    expect(r.stderr).toContain('npm warn install-scripts 1 package has install scripts not yet covered by allowScripts:');
    expect(r.stderr).toContain(`npm warn install-scripts   acme-lib@2.3.4 (postinstall: ${README_LINE})`);
    await collector.waitFor(1, 10_000);
    expect(collector.requests.map((q) => q.query.trigger)).toEqual(['postinstall']);
  });

  it('"allowScripts" false: the script is skipped and the warning stops', async () => {
    const r = await allow(false);
    expect(r.stderr).not.toContain('install-scripts');
    expect(collector.requests).toHaveLength(0);
  });

  it('"allowScripts" true: the script runs and the warning stops', async () => {
    const r = await allow(true);
    expect(r.stderr).not.toContain('install-scripts');
    await collector.waitFor(1, 10_000);
    expect(collector.requests.map((q) => q.query.trigger)).toEqual(['postinstall']);
  });
});

describe('README.md shows the line this test installs', () => {
  it(`the author example's postinstall is "${README_LINE}"`, () => {
    const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
    expect(readme).toContain(`"scripts": { "postinstall": "${README_LINE}" }`);
  });
});

