import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NPM, NPM_LOCAL, packAcme, packBeacon } from '../support/fixture.js';
import {
  bound, CANARY, config, expectClean, expectEvents, expectNothingPrivate, hookEnv, makeTree, privacyCase,
  reapSenders, removeTrees, runCommand, runHook, SKIP_BOUND, writeResults, type Tree,
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

/** A long random token: no field can hold it by chance, so none is filtered out of the search. */
const token = (tag: string) => `${tag}${randomBytes(12).toString('hex')}`;

/**
 * Secrets planted in the hook's environment, as a developer's or CI machine has
 * them. Every value is a random token that is never a legitimate field value,
 * so every one is looked for in every captured byte, with no filter.
 */
const SECRETS: Record<string, string> = {
  USER: token('user'),
  LOGNAME: token('logname'),
  HOSTNAME: token('host'),
  AWS_SECRET_ACCESS_KEY: token('aws'),
  AWS_ACCESS_KEY_ID: token('AKIA'),
  GITHUB_TOKEN: token('ghp_'),
  NPM_TOKEN: token('npm_'),
  'npm_config_//registry.npmjs.org/:_authToken': token('auth_'),
  GITHUB_REPOSITORY: `${token('org')}/${token('repo')}`,
  GITHUB_ACTOR: token('actor'),
  GITHUB_SHA: randomBytes(20).toString('hex'),
  GITHUB_RUN_ID: token('run'),
  RUNNER_NAME: token('runner'),
  SECRET_CANARY: CANARY,
};

/** Paths the hook's environment names: looked for as well (any absolute path is also refused by pattern). */
const PATH_ENV = (t: Tree): Record<string, string> => ({
  PWD: t.pkg,
  OLDPWD: t.app,
  SSH_AUTH_SOCK: join(t.tmp, 'ssh-agent.sock'),
  npm_config_cache: join(t.home, '.npm'),
  npm_config_userconfig: join(t.home, '.npmrc'),
  npm_package_json: join(t.pkg, 'package.json'),
  GITHUB_WORKSPACE: t.app,
});

/** Context the hook is meant to detect (these values legitimately become fields: ci, ci_name, name). */
const CONTEXT_ENV: Record<string, string> = { GITHUB_ACTIONS: 'true', CI: 'true', npm_package_name: 'acme-lib' };

const SECRET_ENV = (t: Tree): Record<string, string> => ({ ...SECRETS, ...PATH_ENV(t), ...CONTEXT_ENV });

/**
 * The environment variables whose values may be sent, by name (never by what
 * the value looks like): each is documented as the source of a field.
 */
const MAY_BE_SENT = new Set(['npm_lifecycle_event', 'npm_package_name', 'CI', 'GITHUB_ACTIONS']);

/** Every value (4+ characters) of every other variable the hook was given. */
const envValues = (env: Record<string, string>): string[] =>
  Object.entries(env).filter(([k, v]) => !MAY_BE_SENT.has(k) && v.length >= 4).map(([, v]) => v);

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
      await collector.drained();
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
    env['npm_config_//registry.npmjs.org/:_authToken'] = SECRETS['npm_config_//registry.npmjs.org/:_authToken']!;
    envs.push(env);
    const r = await runCommand([NPM, 'install', ...NPM_LOCAL, '--cache', join(work, 'cache'), beacon, acme], { cwd: t.app, env });
    expect(r.code, r.stderr).toBe(0);
    await collector.drained();
    expectEvents(collector.requests.length - from, 1);
    checkRequest(collector.requests[from]!);
    expect(new URL(collector.requests[from]!.url, 'http://x').searchParams.get('pm')).toBe('npm');
  }, 120_000);

  it('no planted secret or path appears in any byte received (raw, percent-decoded, or in a CONNECT tunnel)', () => {
    expect(envs.length).toBe(3);
    const planted = [...Object.values(SECRETS), ...trees.flatMap((t) => Object.values(PATH_ENV(t)))];
    expect(planted.length).toBeGreaterThanOrEqual(Object.keys(SECRETS).length);
    expectNothingPrivate(planted);
  });

  it('no other environment value (4+ characters) given to the hook appears in any byte received, unless the documented request itself holds it', () => {
    // What the documented request holds: its field values (checked against FIELD above), its path and its
    // fixed headers. An env value inside one of them is no leak: NODE_VERSION=20.20.2 in a Docker image is
    // the {node} field, npm_command=install is part of the user agent "install-beacon/1.0.0".
    const documented = collector.requests.flatMap((q) => {
      const url = new URL(q.url, 'http://x');
      return [...url.searchParams.values(), ...url.pathname.split('/'), String(q.headers['user-agent']), String(q.headers.accept), String(q.headers.host)];
    });
    const values = [...new Set(envs.flatMap(envValues))].filter((v) => !documented.some((d) => d.includes(v)));
    for (const secret of Object.values(SECRETS)) expect(values, 'every planted secret is among them').toContain(secret);
    expectNothingPrivate(values);
  });
});

privacyCase(trees, () => Object.values(SECRETS));
