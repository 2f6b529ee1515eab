import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startCollector, type Collector } from './support/collector.js';
import { baseEnv, BIN, runBin, TempDirs } from './support/process.js';

// The built bin (dist/bin.cjs), spawned for real against a real collector on 127.0.0.1.

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

function writeAcme(installBeacon: unknown, extra: Record<string, unknown> = {}): void {
  writeFileSync(join(pkgDir, 'package.json'), JSON.stringify({ name: 'acme-lib', version: '2.3.4', scripts: { postinstall: 'install-beacon || exit 0' }, installBeacon, ...extra }));
}

beforeEach(() => {
  collector.requests.length = 0;
  const root = temps.make();
  app = join(root, 'app');
  pkgDir = join(app, 'node_modules', 'acme-lib');
  home = join(root, 'home');
  mkdirSync(pkgDir, { recursive: true });
  mkdirSync(home);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'secret-project-name', version: '1.0.0' }));
  writeAcme({ url: `${collector.base}/{name}/{version}/{platform}/{arch}?ci={ci}&pm={pm}&trigger={trigger}`, delivery: 'inline' });
});

const env = (extra: Record<string, string | undefined> = {}) =>
  baseEnv(home, { INIT_CWD: app, npm_lifecycle_event: 'postinstall', npm_config_user_agent: 'npm/11.19.1 node/v20.20.2 linux x64 workspaces/false', ...extra });
const hook = (extra: Record<string, string | undefined> = {}, args: string[] = []) => runBin(args, { cwd: pkgDir, env: env(extra) });

describe('postinstall mode', () => {
  it('sends one event inline and prints one notice line', async () => {
    const r = await hook();
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^install-beacon: acme-lib@2\.3\.4 .*127\.0\.0\.1:\d+.*DO_NOT_TRACK=1.*npx install-beacon explain/);
    expect(collector.requests).toHaveLength(1);
    expect(collector.requests[0]).toMatchObject({ segments: ['acme-lib', '2.3.4', process.platform, process.arch], query: { ci: 'false', pm: 'npm', trigger: 'postinstall' } });
    expect(collector.requests[0]!.headers['user-agent']).toMatch(/^install-beacon\/\d+\.\d+\.\d+$/);
  });

  it('sends with background delivery after the hook has exited', async () => {
    writeAcme({ url: `${collector.base}/{name}`, delivery: 'background' });
    const r = await hook();
    expect(r.code).toBe(0);
    await collector.waitFor(1);
    expect(collector.requests.map((q) => q.path)).toEqual(['/acme-lib']);
  });

  it('does not send again for a re-run of the same install (npm rebuild)', async () => {
    await hook();
    const again = await hook({ npm_command: 'rebuild' });
    expect(again).toMatchObject({ code: 0, stdout: '', stderr: '' });
    expect(collector.requests).toHaveLength(1);
    expect(readdirSync(join(app, 'node_modules', '.install-beacon'))).toHaveLength(1);
  });

  it('lets a positional template win over package.json', async () => {
    await hook({}, [`${collector.base}/positional/{version}`]);
    expect(collector.requests.map((q) => q.path)).toEqual(['/positional/2.3.4']);
  });

  it.each([
    ['DO_NOT_TRACK=1', () => ({ DO_NOT_TRACK: '1' })],
    ['DO_NOT_TRACK=true', () => ({ DO_NOT_TRACK: 'true' })],
    ['SCARF_ANALYTICS=false', () => ({ SCARF_ANALYTICS: 'false' })],
    ['SCARF_NO_ANALYTICS=1', () => ({ SCARF_NO_ANALYTICS: '1' })],
    ['INSTALL_BEACON_DISABLED=1', () => ({ INSTALL_BEACON_DISABLED: '1' })],
    ['npm offline', () => ({ npm_config_offline: 'true' })],
    ['project opt-out', () => (writeFileSync(join(app, 'package.json'), JSON.stringify({ installBeacon: { enabled: false } })), {})],
    ["project opt-out (Scarf's setting)", () => (writeFileSync(join(app, 'package.json'), JSON.stringify({ scarfSettings: { enabled: false } })), {})],
    ['machine opt-out (XDG_CONFIG_HOME)', () => {
      mkdirSync(join(home, 'xdg', 'install-beacon'), { recursive: true });
      writeFileSync(join(home, 'xdg', 'install-beacon', 'disabled'), '');
      return { XDG_CONFIG_HOME: join(home, 'xdg') };
    }],
    ['CI with "ci": false', () => (writeAcme({ url: `${collector.base}/x`, ci: false, delivery: 'inline' }), { CI: 'true', GITHUB_ACTIONS: 'true' })],
    ['invalid config', () => (writeAcme({ url: 'http://example.com/{nope}' }), {})],
    ['no config', () => (writeAcme(undefined), {})],
    ['malformed package.json', () => (writeFileSync(join(pkgDir, 'package.json'), '{not json'), {})],
  ])('%s: exits 0, prints nothing, sends nothing', async (_name, prepare) => {
    const r = await hook(prepare());
    expect(r).toMatchObject({ code: 0, stdout: '', stderr: '' });
    expect(collector.requests).toHaveLength(0);
  });

  it("skips the author's own install (not inside node_modules), silently", async () => {
    const own = temps.make();
    writeFileSync(join(own, 'package.json'), JSON.stringify({ name: 'acme-lib', version: '1.0.0', installBeacon: { url: `${collector.base}/x`, delivery: 'inline' } }));
    const r = await runBin([], { cwd: own, env: env({ INIT_CWD: own }) });
    expect(r).toMatchObject({ code: 0, stdout: '', stderr: '' });
    expect(collector.requests).toHaveLength(0);
  });

  it('opens no connection at all when opted out', async () => {
    const before = collector.connections;
    await hook({ DO_NOT_TRACK: '1' });
    expect(collector.connections).toBe(before);
  });

  it('prints the decision and URL with INSTALL_BEACON_DEBUG=1, and sends nothing', async () => {
    const r = await hook({ INSTALL_BEACON_DEBUG: '1' });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/would send \(inline delivery\) \[rule: send\]/);
    expect(r.stderr).toContain(`URL: ${collector.base}/acme-lib/2.3.4/${process.platform}/${process.arch}?ci=false&pm=npm&trigger=postinstall`);
    expect(collector.requests).toHaveLength(0);
    const optedOut = await hook({ INSTALL_BEACON_DEBUG: '1', DO_NOT_TRACK: '1' });
    expect(optedOut.stderr).toMatch(/skip \[rule: env-opt-out\] DO_NOT_TRACK=1 is set/);
  });

  it('exits 0 for an unknown argument inside an install', async () => {
    const r = await hook({}, ['--bogus']);
    expect(r).toMatchObject({ code: 0, stdout: '', stderr: '' });
  });
});

describe('commands', () => {
  const cmd = (args: string[], cwd = app, extra: Record<string, string | undefined> = {}) => runBin(args, { cwd, env: baseEnv(home, extra) });

  it('--version and --help', async () => {
    const v = await cmd(['--version']);
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const h = await cmd(['--help']);
    expect(h.code).toBe(0);
    expect(h.stdout).toContain('install-beacon explain [--json]');
  });

  it('rejects an unknown command outside an install (exit 2), suggesting the nearest', async () => {
    const r = await cmd(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown command "frobnicate"');
    expect((await cmd(['explian'])).stderr).toContain('unknown command "explian" (did you mean "explain"?)');
  });

  it.each([
    [['listen', '--prot', '5'], 'install-beacon: listen: unknown option "--prot" (did you mean --port?); known: --port'],
    [['explain', '--jsn'], 'install-beacon: explain: unknown option "--jsn" (did you mean --json?); known: --json'],
    [['check', '--json'], 'install-beacon: check: unknown option "--json"; it takes no options'],
    [['check', 'a', 'b'], 'install-beacon: check: unexpected argument "b"'],
    [['status', '--all'], 'install-beacon: status: unknown option "--all"; it takes no options'],
    [['enable', 'now'], 'install-beacon: enable: unexpected argument "now"'],
    [['listen', '--port'], 'install-beacon: listen: --port needs a value'],
  ])('refuses %j with exit 2 and does nothing', async (args, message) => {
    // Bounded: before, `listen --prot 5` ignored the typo and listened on 7707 until killed.
    const r = await runBin(args, { cwd: app, env: baseEnv(home), timeoutMs: 10_000 });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n')[0]).toBe(message);
  });

  it('listen --port=N is understood like --port N', async () => {
    const r = await cmd(['listen', '--port=abc']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('--port needs a number from 0 to 65535, not "abc"');
  });

  it('check: a valid config prints the example URL and a Telemetry section', async () => {
    writeAcme({ url: 'https://acme.gateway.scarf.sh/{name}/{version}/{platform}?ci={ci}' }, { dependencies: { 'install-beacon': '^1.0.0' } });
    const r = await cmd(['check', pkgDir]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`GET https://acme.gateway.scarf.sh/acme-lib/2.3.4/${process.platform}?ci=false`);
    expect(r.stdout).toContain('## Telemetry');
    expect(r.stdout).toContain('| `ci` | whether the install runs in CI (true/false) |');
    expect(r.stdout).toContain('DO_NOT_TRACK');
    expect(r.stdout).not.toContain('warning');
  });

  it('check: an invalid config exits 1 with a clear message', async () => {
    writeAcme({ url: 'http://acme.example/{name}', delivery: 'soon', extra: 1 });
    const r = await cmd(['check', pkgDir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('the configuration is invalid');
    expect(r.stderr).toContain('error: "installBeacon.url": http:// is only allowed for loopback hosts');
    expect(r.stderr).toContain('error: "installBeacon.delivery" must be one of');
    expect(r.stderr).toContain('warning: unknown key "installBeacon.extra"');
    expect(r.stderr).toContain('error: "install-beacon" must be in "dependencies": devDependencies are not installed for your users');
  });

  it('check: a missing package.json exits 1', async () => {
    const r = await cmd(['check', join(app, 'nowhere')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot read .*package\.json/);
  });

  it('explain: lists installed packages with the rule and the URL, and never sends', async () => {
    const r = await cmd(['explain']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('acme-lib@2.3.4  node_modules/acme-lib');
    expect(r.stdout).toContain('sends: yes, inline delivery');
    expect(r.stdout).toContain(`URL:   ${collector.base}/acme-lib/2.3.4/`);
    await hook();
    expect(collector.requests).toHaveLength(1);
    const reported = await cmd(['explain']);
    expect(reported.stdout).toContain('sends: no (already reported: an earlier run of this install sent it, with a URL like the one below)');
    expect(reported.stdout).toContain('[already-reported]');
    expect(reported.stdout).toMatch(/URL: {3}http:\/\/127\.0\.0\.1:\d+\/acme-lib\/2\.3\.4\/\S+\n/);
    expect(reported.stdout).not.toContain('not sent');
    collector.requests.length = 0;
    const optedOut = await cmd(['explain'], app, { DO_NOT_TRACK: '1' });
    expect(optedOut.stdout).toContain('why:   DO_NOT_TRACK=1 is set [env-opt-out]');
    expect(collector.requests).toHaveLength(0);
  });

  it('explain --json, in a project and in a package folder', async () => {
    const r = JSON.parse((await cmd(['explain', '--json'])).stdout);
    expect(r.mode).toBe('project');
    expect(r.packages).toEqual([expect.objectContaining({ name: 'acme-lib', version: '2.3.4', send: true, rule: 'send', delivery: 'inline' })]);
    const own = JSON.parse((await cmd(['explain', '--json'], pkgDir)).stdout);
    expect(own.mode).toBe('package');
    expect(own.packages[0]).toMatchObject({ name: 'acme-lib', send: true });
  });

  it('explain: a project with no such packages says so', async () => {
    const empty = temps.make();
    const r = await cmd(['explain'], empty);
    expect(r.stdout).toContain('No installed package here uses install-beacon');
  });

  it('disable, status, enable: the user account switch is honoured by the hook', async () => {
    expect((await cmd(['disable'])).stdout).toContain('disabled for every project of this user account');
    expect(existsSync(join(home, '.config', 'install-beacon', 'disabled'))).toBe(true);
    expect((await cmd(['status'])).stdout).toContain("this account's opt-out: on (disabled)");
    await hook();
    expect(collector.requests).toHaveLength(0);
    expect((await cmd(['enable'])).stdout).toContain("this account's opt-out is off");
    expect((await cmd(['status'])).stdout).toContain("this account's opt-out: off");
    await hook();
    expect(collector.requests).toHaveLength(1);
  });

  it('listen: prints one JSON line per request', async () => {
    const child = spawn(process.execPath, [BIN, 'listen', '--port', '0'], { env: baseEnv(home), stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let err = '';
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      const port = await new Promise<number>((resolve, reject) => {
        child.stderr.on('data', (d) => {
          err += d;
          const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(err);
          if (m) resolve(Number(m[1]));
        });
        child.on('exit', () => reject(new Error(err)));
      });
      writeAcme({ url: `http://127.0.0.1:${port}/{name}/{version}?ci={ci}`, delivery: 'inline' });
      await hook();
      for (let i = 0; i < 100 && !out.includes('\n'); i++) await new Promise((r) => setTimeout(r, 20));
      const line = JSON.parse(out.trim().split('\n')[0]!);
      expect(line).toMatchObject({ method: 'GET', path: '/acme-lib/2.3.4', segments: ['acme-lib', '2.3.4'], query: { ci: 'false' } });
      expect(line.userAgent).toMatch(/^install-beacon\//);
    } finally {
      child.kill();
    }
  });

  it('listen: a bad port is a clear error', async () => {
    const r = await cmd(['listen', '--port', 'abc']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('--port needs a number');
  });
});
