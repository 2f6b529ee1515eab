import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NPM, NPM_LOCAL, packAcme, packBeacon } from '../support/fixture.js';
import {
  bound, CANARY, config, expectClean, expectEvents, expectNothingPrivate, forbiddenValues, hookEnv, makeTree, privacyCase,
  reapSenders, removeTrees, runCommand, runHook, settle, SKIP_BOUND, writeResults, type Tree,
} from './harness.js';
import { closeAll, httpServer, type FaultServer, type Request } from './servers.js';

// Privacy: with every template variable in use and an environment full of
// secrets, paths and names, the request holds the documented fields and
// nothing else. (Every other file ends with the same byte-level check over
// all of its own traffic.)

const trees: Tree[] = [];
let collector: FaultServer;
let work: string;

const ALL = ['name', 'version', 'platform', 'arch', 'node', 'ci', 'ci_name', 'container', 'pm', 'pm_version', 'install', 'direct', 'libc', 'libc_version', 'trigger', 'event_id', 'beacon_version'];
const TEMPLATE = (base: string) => `${base}/e/{name}/{version}?${ALL.map((v) => `${v}={${v}}`).join('&')}`;

/** What each documented field may hold. */
const FIELD: Record<string, RegExp> = {
  name: /^acme-lib$/,
  version: /^2\.3\.4$/,
  platform: /^(linux|darwin|win32|freebsd|openbsd|sunos|aix)$/,
  arch: /^(x64|arm64|arm|ia32|ppc64|s390x|riscv64|loong64)$/,
  node: /^\d+\.\d+\.\d+$/,
  ci: /^(true|false)$/,
  ci_name: /^[a-z0-9-]+$/,
  container: /^(docker|podman|kubernetes|none)$/,
  pm: /^(npm|pnpm|yarn|bun|unknown)$/,
  pm_version: /^(\d[\w.+-]*|unknown)$/,
  install: /^(local|global)$/,
  direct: /^(true|false|unknown)$/,
  libc: /^(glibc|musl|none)$/,
  libc_version: /^(\d+\.\d+(\.\d+)?|none|unknown)$/,
  trigger: /^postinstall$/,
  event_id: /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
  beacon_version: /^\d+\.\d+\.\d+/,
};

/** An environment as a developer's or CI machine has it: secrets, names and paths everywhere. */
const SECRET_ENV = (t: Tree): Record<string, string> => ({
  USER: 'alice-secret-user',
  LOGNAME: 'alice-secret-user',
  HOSTNAME: 'secret-host-name.corp.example',
  PWD: t.pkg,
  OLDPWD: t.app,
  SSH_AUTH_SOCK: join(t.tmp, 'ssh-agent.sock'),
  AWS_SECRET_ACCESS_KEY: `aws-${CANARY}`,
  GITHUB_TOKEN: `ghp_${CANARY}`,
  NPM_TOKEN: `npm_${CANARY}`,
  'npm_config_//registry.npmjs.org/:_authToken': `auth_${CANARY}`,
  npm_config_cache: join(t.home, '.npm'),
  npm_config_userconfig: join(t.home, '.npmrc'),
  npm_package_name: 'acme-lib',
  npm_package_json: join(t.pkg, 'package.json'),
  GITHUB_ACTIONS: 'true',
  CI: 'true',
  GITHUB_REPOSITORY: 'secret-org/secret-repo',
  GITHUB_WORKSPACE: t.app,
  GITHUB_ACTOR: 'secret-actor',
  GITHUB_SHA: '0123456789abcdef0123456789abcdef01234567',
  RUNNER_NAME: 'secret-runner-7',
});

/** Env values that must not be sent: 6+ characters, and not themselves a documented field value (npm_lifecycle_event=postinstall is {trigger}). */
const secretValues = (env: Record<string, string>): string[] => Object.values(env).filter((v) => v.length >= 6 && !Object.values(FIELD).some((re) => re.test(v)));

function checkRequest(req: Request): void {
  expect(req.method).toBe('GET');
  const url = new URL(req.url, 'http://x');
  expect([...url.searchParams.keys()].sort()).toEqual([...ALL].sort());
  for (const [key, value] of url.searchParams) expect(value, key).toMatch(FIELD[key]!);
  expect(url.pathname).toBe('/e/acme-lib/2.3.4');
  // Headers: exactly these, no cookie, no body, no referer.
  const names = req.head.split('\r\n').slice(1).map((l) => l.split(':')[0]!.toLowerCase()).sort();
  expect(names.filter((n) => n !== 'connection')).toEqual(['accept', 'host', 'user-agent']);
  expect(req.headers['user-agent']).toMatch(/^install-beacon\/\d+\.\d+\.\d+$/);
}

beforeAll(async () => {
  collector = await httpServer();
  work = mkdtempSync(join(tmpdir(), 'ib-faults-privacy-'));
});
afterAll(async () => {
  await closeAll();
  removeTrees();
  rmSync(work, { recursive: true, force: true });
  writeResults('privacy');
});

const envs: Record<string, string>[] = [];

describe('the request carries the documented fields only', () => {
  for (const delivery of ['inline', 'background'] as const) {
    it(`every variable, ${delivery} delivery, an environment full of secrets`, async () => {
      const from = collector.requests.length;
      const t = makeTree({ installBeacon: config(TEMPLATE(collector.base), delivery, 1500) });
      trees.push(t);
      const env = hookEnv(t, SECRET_ENV(t));
      envs.push(env);
      const r = await runHook(t, { env });
      expectClean(r, delivery === 'inline' ? bound(1500) : SKIP_BOUND, 'notice');
      if (delivery === 'background') expect(await reapSenders(String(collector.port), 12_000)).toEqual([]);
      await settle(100);
      expectEvents(collector.requests.length - from, 1);
      checkRequest(collector.requests[from]!);
      expect(new URL(collector.requests[from]!.url, 'http://x').searchParams.get('ci_name')).toBe('github-actions');
    });
  }

  it('every variable, through a real npm install', async () => {
    const from = collector.requests.length;
    const dir = join(work, 'pack');
    mkdirSync(dir);
    const beacon = packBeacon(dir);
    const acme = packAcme(dir, { installBeacon: config(TEMPLATE(collector.base), 'inline', 1500) });
    const t = makeTree();
    trees.push(t);
    rmSync(t.nodeModules, { recursive: true, force: true });
    const env = hookEnv(t, SECRET_ENV(t));
    for (const k of Object.keys(env)) if (k.startsWith('npm_') || k === 'INIT_CWD') delete env[k];
    env['npm_config_//registry.npmjs.org/:_authToken'] = `auth_${CANARY}`;
    envs.push(env);
    const r = await runCommand([NPM, 'install', ...NPM_LOCAL, '--cache', join(work, 'cache'), beacon, acme], { cwd: t.app, env });
    expect(r.code, r.stderr).toBe(0);
    await settle(100);
    expectEvents(collector.requests.length - from, 1);
    checkRequest(collector.requests[from]!);
    expect(new URL(collector.requests[from]!.url, 'http://x').searchParams.get('pm')).toBe('npm');
  }, 120_000);

  it('no environment value (6+ characters) given to the hook appears in any byte received', () => {
    expect(envs.length).toBe(3);
    expectNothingPrivate([...new Set(envs.flatMap(secretValues))]);
  });
});

privacyCase(trees, () => [...new Set(envs.flatMap(secretValues))]);
