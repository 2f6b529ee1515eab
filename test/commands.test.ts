import { mkdirSync, readdirSync, writeFileSync, type Dirent } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startCollector, type Collector } from './support/collector.js';
import { baseEnv, ROOT, run, runBin, sendersDone, TempDirs } from './support/process.js';

// What the commands tell a person, run as the built bin (dist/bin.cjs) in real
// folders: each case is a message that was wrong or missing (issue 9, items 3,
// 4, 14, 15, 17, 18; issue 12's Telemetry section and "did you mean").

const temps = new TempDirs();
let collector: Collector;
let app: string;
let pkgDir: string;
let home: string;

beforeAll(async () => {
  collector = await startCollector();
});
afterAll(async () => {
  await collector.close();
  temps.cleanup();
});

const LINE = 'install-beacon || exit 0';
const url = () => `${collector.base}/{name}/{version}?pm={pm}&pm_version={pm_version}&trigger={trigger}`;

function writeJson(file: string, value: unknown): void {
  writeFileSync(file, JSON.stringify(value, null, 2));
}

function writeAcme(extra: Record<string, unknown> = {}): void {
  writeJson(join(pkgDir, 'package.json'), {
    name: 'acme-lib', version: '2.3.4', main: 'index.js',
    scripts: { postinstall: LINE }, dependencies: { 'install-beacon': '^1.0.0' },
    installBeacon: { url: url(), delivery: 'inline' }, ...extra,
  });
}

beforeEach(() => {
  collector.requests.length = 0;
  const root = temps.make('ib-cmd-');
  app = join(root, 'app');
  pkgDir = join(app, 'node_modules', 'acme-lib');
  home = join(root, 'home');
  mkdirSync(pkgDir, { recursive: true });
  mkdirSync(home);
  writeJson(join(app, 'package.json'), { name: 'secret-project-name', version: '1.0.0' });
  writeAcme();
  writeFileSync(join(pkgDir, 'index.js'), `require(${JSON.stringify(join(ROOT, 'dist', 'index.cjs'))}).reportInstall(__filename);\nmodule.exports = 42;\n`);
});

const cmd = (args: string[], cwd = app, extra: Record<string, string | undefined> = {}) => runBin(args, { cwd, env: baseEnv(home, extra) });
const hook = (extra: Record<string, string | undefined> = {}) =>
  runBin([], { cwd: pkgDir, env: baseEnv(home, { INIT_CWD: app, npm_lifecycle_event: 'postinstall', npm_config_user_agent: 'npm/11.19.1 node/v20.20.2 linux x64 workspaces/false', ...extra }) });
/** A program that loads acme-lib (so reportInstall runs), outside any package manager. */
const program = (cwd: string, extra: Record<string, string | undefined> = {}) => run(process.execPath, ['-e', "require('acme-lib')"], { cwd, env: baseEnv(home, extra) });

describe('explain in a project that opted out the documented way (item 3)', () => {
  it('{"enabled": false} with no url: lists the installed packages and says the project opted out', async () => {
    writeJson(join(app, 'package.json'), { name: 'enduser', version: '1.0.0', installBeacon: { enabled: false } });
    const r = await cmd(['explain']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`This project opted out: its package.json (${app}) has "installBeacon": {"enabled": false}. Installs into it send nothing.`);
    expect(r.stdout).toContain('acme-lib@2.3.4  node_modules/acme-lib');
    expect(r.stdout).toContain('[project-opt-out]');
    expect(r.stdout).not.toContain('invalid configuration');
    const json = JSON.parse((await cmd(['explain', '--json'])).stdout);
    expect(json.mode).toBe('project');
    expect(json.project).toMatchObject({ dir: app, optOut: '"installBeacon": {"enabled": false}' });
    expect(json.packages).toEqual([expect.objectContaining({ name: 'acme-lib', send: false, rule: 'project-opt-out' })]);
  });
});

describe('a project\'s "enabled": "false" (a string) is an opt-out (item 4)', () => {
  it('the hook sends nothing; explain and status say it was read as false', async () => {
    writeJson(join(app, 'package.json'), { name: 'enduser', version: '1.0.0', installBeacon: { enabled: 'false' } });
    const h = await hook();
    expect(h).toMatchObject({ code: 0, stdout: '', stderr: '' });
    expect(collector.requests).toHaveLength(0);
    const e = await cmd(['explain']);
    expect(e.stdout).toContain('has "installBeacon": {"enabled": "false"} (a string, read as false). Installs into it send nothing.');
    const s = await cmd(['status']);
    expect(s.stdout).toContain(`install-beacon: project opt-out: on: "installBeacon": {"enabled": "false"} (a string, read as false) (${join(app, 'package.json')})`);
  });

  it('a value that means neither on nor off is flagged, and is not an opt-out', async () => {
    writeJson(join(app, 'package.json'), { name: 'enduser', version: '1.0.0', scarfSettings: { enabled: 'nope' } });
    const e = await cmd(['explain']);
    expect(e.stdout).toContain('"scarfSettings": {"enabled": "nope"} is not understood, so it is not an opt-out: write "enabled": false');
    expect(e.stdout).toContain('sends: yes');
    const s = await cmd(['status']);
    expect(s.stdout).toContain('install-beacon: project opt-out: off');
    expect(s.stdout).toContain('install-beacon: note: "scarfSettings": {"enabled": "nope"} is not understood');
  });
});

describe('where an opt-out must be set (item 17)', () => {
  /** Every file under `dir`, relative to it. */
  const files = (dir: string): string[] => (readdirSync(dir, { recursive: true, withFileTypes: true }) as Dirent[]).filter((e) => !e.isDirectory()).map((e) => relative(dir, join(e.parentPath ?? e.path, e.name))).sort();

  it('an environment opt-out is not remembered: the hook and reportInstall write no file, so a later run without it sends', async () => {
    const treeBefore = files(app);
    expect(await hook({ DO_NOT_TRACK: '1' })).toMatchObject({ code: 0, stdout: '', stderr: '' });
    expect((await program(app, { DO_NOT_TRACK: '1' })).code).toBe(0);
    expect(files(app)).toEqual(treeBefore);
    expect(files(home)).toEqual([]);
    expect(collector.requests).toHaveLength(0);
    // Why the README says to set it where programs run too: a run without it reports the install.
    expect((await program(app)).code).toBe(0);
    await collector.waitFor(1, 10_000);
    expect(collector.requests.map((q) => q.query.trigger)).toEqual(['runtime']);
  });
});

describe('messages that must be true (item 18)', () => {
  it('enable with nothing disabled does not claim it removed a file', async () => {
    const r = await cmd(['enable']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("this account's opt-out was not on");
    expect(r.stdout).not.toContain('removed');
    await cmd(['disable']);
    expect((await cmd(['enable'])).stdout).toContain('removed)');
  });

  it.each([
    ['{\n  "name": "acme-lib",\n  "version": "2.3.4"\n  "scripts": {}\n}\n', 'line 4, column 3'],
    ['{\n  "name": "acme-lib",\n', 'line 3, column 1'],
    ['{"name": "acme-lib",}', 'line 1, column 21'],
  ])('check on malformed JSON says where (%#)', async (text, where) => {
    writeFileSync(join(pkgDir, 'package.json'), text);
    const r = await cmd(['check', pkgDir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${join(pkgDir, 'package.json')} is not valid JSON: ${where}: `);
  });

  it('explain: pm_version from the project\'s packageManager field, and says where it comes from when the tree has none', async () => {
    writeJson(join(app, 'package.json'), { name: 'enduser', version: '1.0.0', packageManager: 'npm@11.19.1' });
    const withField = await cmd(['explain']);
    expect(withField.stdout).toContain('pm=npm pm_version=11.19.1');
    expect(withField.stdout).not.toContain('{pm_version} is "unknown"');
    writeJson(join(app, 'package.json'), { name: 'enduser', version: '1.0.0' });
    writeFileSync(join(app, 'package-lock.json'), '{}');
    const without = await cmd(['explain']);
    expect(without.stdout).toContain('pm=npm pm_version=unknown');
    expect(without.stdout).toContain('note:  {pm_version} is "unknown" here: an install sends the installing package manager\'s version, from its user agent (npm_config_user_agent)');
  });

  it('reportInstall sends pm_version from the tree (pnpm\'s node_modules/.modules.yaml)', async () => {
    writeFileSync(join(app, 'node_modules', '.modules.yaml'), '{\n  "layoutVersion": 5,\n  "nodeLinker": "hoisted",\n  "packageManager": "pnpm@10.34.9",\n  "pendingBuilds": []\n}\n');
    writeFileSync(join(app, 'pnpm-lock.yaml'), '');
    const r = await program(app);
    expect(r.code).toBe(0);
    await collector.waitFor(1, 10_000);
    expect(collector.requests.map((q) => q.query)).toEqual([{ pm: 'pnpm', pm_version: '10.34.9', trigger: 'runtime' }]);
  });
});

describe('explain after reportInstall reported the install', () => {
  it('shows trigger=runtime, the trigger its marker records and the URL it sent', async () => {
    expect((await program(app)).code).toBe(0);
    await collector.waitFor(1, 10_000);
    await sendersDone(String(collector.port));
    expect(collector.requests.map((q) => q.query.trigger)).toEqual(['runtime']);
    const r = await cmd(['explain']);
    expect(r.stdout).toContain('why:   this install already reported');
    expect(r.stdout).toMatch(/URL: {3}http:\/\/127\.0\.0\.1:\d+\/acme-lib\/2\.3\.4\?pm=\w+&pm_version=\w+&trigger=runtime\n/);
  });
});

describe('check: a setup that can fail installs is an error (items 1 and 15)', () => {
  it('the README setup passes', async () => {
    const r = await cmd(['check', pkgDir]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('the configuration is valid');
  });

  it.each([
    ['install-beacon in devDependencies', { dependencies: {}, devDependencies: { 'install-beacon': '^1.0.0' } }, 'error: "install-beacon" must be in "dependencies", not "devDependencies": devDependencies are not installed for your users'],
    ['install-beacon in no dependency list', { dependencies: {} }, 'error: "install-beacon" must be in "dependencies": devDependencies are not installed for your users'],
    ['a bare postinstall', { scripts: { postinstall: 'install-beacon' } }, 'error: "scripts.postinstall": "install-beacon" fails the user\'s whole install where the install-beacon command is missing'],
    ['"npm run beacon" with a bare "beacon": "install-beacon"', { scripts: { postinstall: 'npm run beacon', beacon: 'install-beacon' } }, 'error: "scripts.beacon": "install-beacon" fails the user\'s whole install where the install-beacon command is missing'],
    ['"yarn beacon" with a bare "beacon": "install-beacon"', { scripts: { postinstall: 'yarn beacon', beacon: 'install-beacon' } }, 'error: "scripts.beacon": "install-beacon" fails the user\'s whole install'],
    ['a path into node_modules', { scripts: { postinstall: 'node node_modules/install-beacon/dist/bin.cjs || exit 0' } }, 'error: "scripts.postinstall": "node_modules/install-beacon/dist/bin.cjs" is not where install-beacon is in your users\' installs (npm hoists it, pnpm and yarn store it elsewhere)'],
    ['a positional URL with an unquoted &', { scripts: { postinstall: 'install-beacon https://e.com/{name}?ci={ci}&pm={pm} || exit 0' } }, 'error: "scripts.postinstall": the shell cuts the URL at "&"'],
  ])('%s: exit 1', async (_name, extra, message) => {
    writeAcme(extra);
    const r = await cmd(['check', pkgDir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('the setup is not');
    expect(r.stderr).toContain(message);
  });

  it.each([
    ['"install-beacon": "" in dependencies (any version, as "*")', { dependencies: { 'install-beacon': '' } }],
    ['"npm run beacon || exit 0" with "beacon": "install-beacon"', { scripts: { postinstall: 'npm run beacon || exit 0', beacon: 'install-beacon' } }],
    ['"npm run beacon" with "beacon": "install-beacon || exit 0"', { scripts: { postinstall: 'npm run beacon', beacon: LINE } }],
  ])('%s: valid, exit 0', async (_name, extra) => {
    writeAcme(extra);
    const r = await cmd(['check', pkgDir]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('explain shows the URL the shell passes, not the one written', async () => {
    writeAcme({ installBeacon: undefined, scripts: { postinstall: `install-beacon ${collector.base}/{name}?a={ci}&b={pm} || exit 0` } });
    const r = await cmd(['explain']);
    expect(r.stdout).toMatch(/URL: {3}http:\/\/127\.0\.0\.1:\d+\/acme-lib\?a=false\n/);
    // In the package's own folder, explain also says why.
    const own = await cmd(['explain'], pkgDir);
    expect(own.stdout).toContain('note:  "scripts.postinstall": the shell cuts the URL at "&"');
  });

  it('check on {platfrom} suggests {platform} (issue 12)', async () => {
    writeAcme({ installBeacon: { url: 'https://e.com/{name}/{platfrom}' } });
    const r = await cmd(['check', pkgDir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error: "installBeacon.url": unknown variable {platfrom}; did you mean {platform}? Known: {name}');
  });
});

describe("check's Telemetry section is true for the config it was run on (issue 12)", () => {
  const section = async (installBeacon: Record<string, unknown>, main?: string) => {
    writeAcme({ installBeacon: { url: 'https://e.com/{name}', ...installBeacon } });
    writeFileSync(join(pkgDir, 'index.js'), main ?? 'module.exports = 42;\n');
    const r = await cmd(['check', pkgDir]);
    expect(r.code).toBe(0);
    return r.stdout.slice(r.stdout.indexOf('## Telemetry'));
  };

  it('auto delivery: says that in CI and containers the install waits, and for how long', async () => {
    const s = await section({});
    expect(s).toContain('In CI and in containers, where that process would die with the job, the install sends the request itself and waits for it at most 1.5 s.');
    expect(s).not.toContain('never waits');
  });

  it('inline delivery with timeoutMs 3000: waits at most 3 s', async () => {
    const s = await section({ delivery: 'inline', timeoutMs: 3000 });
    expect(s).toContain('it sends the request itself and waits for it at most 3 s.');
    expect(s).not.toContain('never waits');
  });

  it('{direct} and {libc_version}: their rows say what they are and that they identify no one', async () => {
    const s = await section({ url: 'https://e.com/{name}?direct={direct}&libc_version={libc_version}' });
    expect(s).toContain('| `direct` | true if the installing project asked for this package, false if another package pulled it in, or unknown (nothing else about the project is sent) |');
    expect(s).toContain("| `libc_version` | the C library's version on Linux (e.g. 2.36), or none |");
  });

  it('background delivery: never waits', async () => {
    const s = await section({ delivery: 'background' });
    expect(s).toContain('The install never waits on the network and never fails because of it');
  });

  it('"ci": false says CI installs are not counted', async () => {
    expect(await section({ ci: false })).toContain('when it is installed as a dependency (not in CI), it sends');
  });

  it('with reportInstall: the first load counts, and an env opt-out must be set where programs run', async () => {
    const s = await section({}, "require('install-beacon').reportInstall(__filename);\n");
    expect(s).toContain('or, where install scripts are blocked, the first time it is loaded');
    expect(s).toContain('- `DO_NOT_TRACK` set to anything but empty, 0, false or no\n');
    expect(s).toContain('A variable covers only the processes that see it: set it wherever you install and run your programs (your shell profile, your CI settings). The package.json setting and `disable` cover both.');
  });

  it('without reportInstall: nothing about programs (an env opt-out at install time is enough)', async () => {
    const s = await section({});
    expect(s).toContain('- `DO_NOT_TRACK` set to anything but empty, 0, false or no\n');
    expect(s).not.toContain('first time it is loaded');
    expect(s).not.toContain('run your programs');
  });
});

describe('INSTALL_BEACON_DEBUG shows what it decided (item 14)', () => {
  it('an already-reported install (npm rebuild) still prints the URL', async () => {
    await hook();
    expect(collector.requests).toHaveLength(1);
    const r = await hook({ INSTALL_BEACON_DEBUG: '1', npm_command: 'rebuild' });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('skip [rule: already-reported]');
    expect(r.stderr).toMatch(/install-beacon: URL: http:\/\/127\.0\.0\.1:\d+\/acme-lib\/2\.3\.4\?pm=npm&pm_version=11\.19\.1&trigger=postinstall \(what an install here reports; already sent\)/);
    expect(collector.requests).toHaveLength(1);
  });

  it('reportInstall says it would use a background sender (not "inline delivery"), and sends nothing', async () => {
    const r = await program(app, { INSTALL_BEACON_DEBUG: '1', CI: 'true' });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('install-beacon: acme-lib@2.3.4: reportInstall: would send (a detached background sender) [rule: send]');
    expect(r.stderr).not.toContain('inline');
    expect(collector.requests).toHaveLength(0);
  });

  it("reportInstall in the author's own repo prints one line, so the author can see it is wired", async () => {
    const repo = join(temps.make('ib-cmd-repo-'), 'acme-lib');
    mkdirSync(repo);
    writeJson(join(repo, 'package.json'), { name: 'acme-lib', version: '2.3.4', installBeacon: { url: url() } });
    writeFileSync(join(repo, 'index.js'), `require(${JSON.stringify(join(ROOT, 'dist', 'index.cjs'))}).reportInstall(__filename);\n`);
    const quiet = await run(process.execPath, ['index.js'], { cwd: repo, env: baseEnv(home) });
    expect(quiet).toMatchObject({ code: 0, stdout: '', stderr: '' });
    const r = await run(process.execPath, ['index.js'], { cwd: repo, env: baseEnv(home, { INSTALL_BEACON_DEBUG: '1' }) });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(`install-beacon: reportInstall(${join(repo, 'index.js')}): skip [rule: self-install] not inside node_modules (your own repo): nothing is sent from here; installed as a dependency, it reports once per install\n`);
  });
});


