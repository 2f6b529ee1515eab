import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startCollector, type Collector } from './support/collector.js';
import { baseEnv, BIN, run, runBin, TempDirs } from './support/process.js';

// What `install-beacon disable` covers, in real processes: the file in the
// config dir of the account and environment it ran under (HOME,
// XDG_CONFIG_HOME), and nothing else. Its message and --help say exactly that;
// these cases show each sentence holds (another HOME/XDG, another user via setpriv).

const temps = new TempDirs();
let collector: Collector;
let root: string;
let app: string;
let pkgDir: string;

beforeAll(async () => {
  collector = await startCollector();
});
afterAll(async () => {
  await collector.close();
  temps.cleanup();
});
beforeEach(() => {
  collector.requests.length = 0;
  root = temps.make('ib-scope-');
  chmodSync(root, 0o755); // readable by the other user below
  app = join(root, 'app');
  pkgDir = join(app, 'node_modules', 'acme-lib');
  mkdirSync(pkgDir, { recursive: true });
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0' }));
  writeFileSync(join(pkgDir, 'package.json'), JSON.stringify({ name: 'acme-lib', version: '2.3.4', installBeacon: { url: `${collector.base}/{name}`, delivery: 'inline' } }));
});

const dir = (name: string): string => {
  const d = join(root, name);
  mkdirSync(d, { recursive: true });
  chmodSync(d, 0o777);
  return d;
};
const hookEnv = (home: string, extra: Record<string, string | undefined> = {}) => baseEnv(home, { INIT_CWD: app, npm_lifecycle_event: 'postinstall', ...extra });
/** The hook as an install runs it; each call is one fresh install (the marker is removed first). */
async function sent(env: Record<string, string>, asUser?: number): Promise<number> {
  const { rmSync } = await import('node:fs');
  rmSync(join(app, 'node_modules', '.install-beacon'), { recursive: true, force: true });
  const before = collector.requests.length;
  const r = asUser === undefined
    ? await runBin([], { cwd: pkgDir, env })
    : await run('setpriv', [`--reuid=${asUser}`, `--regid=${asUser}`, '--clear-groups', process.execPath, BIN], { cwd: pkgDir, env });
  expect(r.code).toBe(0);
  return collector.requests.length - before;
}

describe('install-beacon disable covers its own account and config dir, and says so', () => {
  it('disable with XDG_CONFIG_HOME set: says where and for whom; an install with that XDG sends nothing, one without it sends', async () => {
    const home = dir('home');
    const xdg = dir('xdg');
    const r = await runBin(['disable'], { cwd: app, env: baseEnv(home, { XDG_CONFIG_HOME: xdg }) });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`install-beacon: disabled for every project of this user account (${xdg}/install-beacon/disabled)`);
    expect(r.stdout).toContain('other accounts (root, sudo, CI) and HOMEs have their own');
    expect(await sent(hookEnv(home, { XDG_CONFIG_HOME: xdg }))).toBe(0);
    expect(await sent(hookEnv(home))).toBe(1);
    const status = await runBin(['status'], { cwd: app, env: baseEnv(home) });
    expect(status.stdout).toContain(`install-beacon: this account's opt-out: off (${home}/.config/install-beacon/disabled)`);
  });

  // uid 65534 must be able to reach the built bin: a checkout in a 0700 folder (mktemp -d) is out of its reach.
  const reachable = process.getuid?.() === 0 && existsSync('/usr/bin/setpriv') && spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'test', '-r', BIN]).status === 0;
  it.skipIf(!reachable)(`disabled by root: an install run by another user (setpriv, uid 65534, its own HOME) sends${reachable ? '' : ' (skipped: not root, no setpriv, or the checkout is not readable by uid 65534)'}`, async () => {
    const rootHome = dir('root-home');
    expect((await runBin(['disable'], { cwd: app, env: baseEnv(rootHome) })).code).toBe(0);
    expect(await sent(hookEnv(rootHome))).toBe(0);
    chmodSync(join(app, 'node_modules'), 0o777); // the other user's marker
    expect(await sent(hookEnv(dir('nobody-home')), 65534)).toBe(1);
  });

  it('--help says what disable covers, and that status shows the project setting', async () => {
    const r = await runBin(['--help'], { cwd: app, env: baseEnv(dir('h')) });
    expect(r.stdout).toContain('install-beacon disable|enable    turn install-beacon off/on for every project of this user account\n                                   (a file in its config dir; root, sudo and CI users each have their own)');
    expect(r.stdout).toContain("install-beacon status            show this account's switch, the environment's opt-outs and this project's setting");
  });
});
