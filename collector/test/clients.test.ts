import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseEnv, run, TempDirs } from '../../test/support/process.js';
import { npmArgv, npmLocal, writeProject } from '../../test/support/fixture.js';
import { killAll, startBin, type Proc } from './support/bin.js';
import { request, waitUntil } from './support/http.js';
import { postgresSkipped, startPostgres, type Postgres } from './support/postgres.js';

// Clients this repo did not write, unchanged, against the built collector (a real process, a real
// SQLite file): scarf-shell's scarf.sh run by bash, @scarf/scarf's postinstall run by a real
// `npm install`, and curl POSTing each kind of body. Both clients are vendored under
// test/fixtures/ with their licences (Apache-2.0); see test/fixtures/README.md.

const exec = promisify(execFile);
const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const temps = new TempDirs();
const TOKEN = 'clients-token-0123456789abcdef';
const auth = { authorization: `Bearer ${TOKEN}` };
const ID = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
// The shell route: scarf.sh's query names platform and version; its elapsed_time and exit_code,
// named by no template, are stored too (every query parameter is).
const SHELL_ROUTE = 'bash-test=/bash-test?platform={platform}&version={version}';

type Stored = { package: string; event_id?: string } & Record<string, string>;
let c: Proc;
let dbDir: string;
const home = () => temps.make('ibc-clients-home-');
const start = (db: string, extra: string[] = []) =>
  startBin(['--port', '0', '--db', db, '--route', '/{name}/{version}/{platform}/{arch}?event_id={event_id}', '--route', SHELL_ROUTE, '--route', 'acme-lib=/t?version={version}', ...extra], baseEnv(home(), { INSTALL_BEACON_TOKEN: TOKEN, DATABASE_URL: undefined }));

beforeAll(async () => {
  dbDir = temps.make('ibc-clients-');
  c = await start(join(dbDir, 'events.db'));
}, 60_000);
afterAll(async () => {
  await c?.stop();
  killAll();
  temps.cleanup();
});

const stored = async (url = c.url): Promise<Stored[]> => {
  const r = await request(url, '/api/events.ndjson', { headers: auth });
  expect(r.status).toBe(200);
  return r.body.trim() ? r.body.trim().split('\n').map((l) => JSON.parse(l) as Stored) : [];
};
const of = async (pkg: string) => (await stored()).filter((e) => e.package === pkg).map(({ received_at: _, package: _p, ...rest }) => rest);

/** curl, as a person types it: status and body. */
async function curl(args: string[], url = c.url): Promise<{ status: number; body: string }> {
  const last = args.pop()!;
  const { stdout } = await exec('curl', ['-s', '-w', '\n%{http_code}', ...args, `${url}${last}`]);
  const at = stdout.lastIndexOf('\n');
  return { status: Number(stdout.slice(at + 1)), body: stdout.slice(0, at) };
}

describe("scarf-shell's scarf.sh, unchanged, run by bash", () => {
  it('5 of 5 runs are stored, with the platform as uname -s says it', async () => {
    const dir = temps.make('ibc-scarf-shell-');
    cpSync(join(FIXTURES, 'scarf-shell', 'scarf.sh'), join(dir, 'scarf.sh'));
    // The README's usage (example.sh), with the collector as the base URL.
    writeFileSync(
      join(dir, 'tool.sh'),
      `#!/bin/bash\nSCARF_BASE_URL="${c.url}/bash-test"\nSCARF_PACKAGE_VERSION="0.1"\nsource ./scarf.sh\nsetup_scarf_telemetry\necho "Hello!"\nexit "$1"\n`,
    );
    const uname = (await exec('uname', ['-s'])).stdout.trim();
    for (let i = 0; i < 5; i++) {
      // scarf.sh sends $VERSION (not $SCARF_PACKAGE_VERSION), "unknown" when unset: both ways are run.
      const env = baseEnv(home(), i % 2 === 0 ? {} : { VERSION: `1.0.${i}` });
      const r = await run('bash', ['tool.sh', String(i)], { cwd: dir, env, timeoutMs: 30_000 });
      expect([r.code, r.stdout.startsWith('Hello!\n')]).toEqual([i, true]);
      expect(r.stderr).not.toContain('Error'); // its curl is not silent: the progress meter goes to stderr
    }
    expect(await of('bash-test')).toEqual([0, 1, 2, 3, 4].map((i) => ({ platform: uname, version: i % 2 === 0 ? 'unknown' : `1.0.${i}`, exit_code: String(i), elapsed_time: expect.stringMatching(/^\d+$/) })));
  }, 60_000);
});

describe('curl POSTs of each kind of body', () => {
  it.each<[string, string[], Record<string, string>[]]>([
    ['no body (scarf-shell\'s way): one event from the query', ['-X', 'POST', '/t?version=1.0.0'], [{ version: '1.0.0' }]],
    ['a JSON object', ['-H', 'content-type: application/json', '--data-binary', '{"version":"1.0.1","platform":"linux","node":"22.1.0","python":"3.12"}', '/t'], [{ version: '1.0.1', platform: 'linux', node: '22.1.0', python: '3.12' }]],
    ['a JSON array: one event each', ['--json', '[{"version":"1.0.2","arch":"x64"},{"version":"1.0.2","arch":"arm64"}]', '/t'], [{ version: '1.0.2', arch: 'x64' }, { version: '1.0.2', arch: 'arm64' }]],
    ['ndjson: one event per line', ['-H', 'content-type: application/x-ndjson', '--data-binary', '{"platform":"darwin"}\n{"platform":"win32"}\n', '/t?version=1.0.3'], [{ version: '1.0.3', platform: 'darwin' }, { version: '1.0.3', platform: 'win32' }]],
    ['a form (curl -d)', ['-d', 'version=1.0.4', '-d', 'platform=linux', '-d', 'pm=npm', '/t'], [{ version: '1.0.4', platform: 'linux', pm: 'npm' }]],
    ['nested objects, flattened to dotted names', ['--json', '{"version":"1.0.5","os":{"name":"linux"}}', '/t'], [{ version: '1.0.5', 'os.name': 'linux' }]],
  ])('%s: 200, stored', async (_what, args, events) => {
    const before = (await of('acme-lib')).length;
    const r = await curl(args);
    expect([r.status, r.body]).toEqual([200, '']);
    expect((await of('acme-lib')).slice(before)).toEqual(events);
  });

  it.each<[string, string[], number, string]>([
    ['malformed JSON', ['--json', '[{"version":"2.0.0"},{"version":', '/t'], 400, 'the body is malformed: the body is not valid JSON'],
    ['one bad event among good ones', ['--json', '[{"version":"2.0.0"},{"version":"2\\u202e"}]', '/t'], 400, 'bidirectional-text controls'],
    ['a second line that is not JSON', ['-H', 'content-type: application/x-ndjson', '--data-binary', '{"version":"2.0.0"}\nnope\n', '/t'], 400, 'line 2 is not valid JSON'],
    ['a body that contradicts the URL', ['--json', '{"version":"2.0.1"}', '/t?version=2.0.0'], 400, 'another value than the URL'],
    ['a body over 64 KiB', ['--json', JSON.stringify([{ version: '2.0.0', pm: 'x'.repeat(70_000) }]), '/t'], 413, 'longer than 65536 bytes'],
    ['more than 1000 events', ['-H', 'content-type: application/x-ndjson', '--data-binary', '{"version":"2.0.0"}\n'.repeat(1001), '/t'], 413, 'more than 1000 events'],
    ['text/plain', ['-H', 'content-type: text/plain', '--data-binary', 'version=2.0.0', '/t'], 415, 'a body must be'],
    ['PUT', ['-X', 'PUT', '--json', '{"version":"2.0.0"}', '/t'], 405, 'only GET, HEAD and POST are accepted'],
    ['DELETE', ['-X', 'DELETE', '/t?version=2.0.0'], 405, 'only GET, HEAD and POST are accepted'],
    ['PATCH', ['-X', 'PATCH', '--json', '{}', '/t?version=2.0.0'], 405, 'only GET, HEAD and POST are accepted'],
  ])('%s: refused with its status, nothing of the request stored', async (_what, args, status, says) => {
    const before = await stored();
    const r = await curl(args);
    expect(r.status).toBe(status);
    expect(r.body).toContain(says);
    expect(await stored()).toEqual(before);
  });

  it('de-duplication by event_id holds per event: a retried body, and a repeat inside one, are stored once each', async () => {
    const body = [ID(1), ID(2), ID(1)].map((event_id) => JSON.stringify({ event_id })).join('\n');
    for (let i = 0; i < 2; i++) {
      const r = await curl(['-H', 'content-type: application/x-ndjson', '--data-binary', body, '/dedup-lib/1.0.0/linux/x64']);
      expect(r.status).toBe(200);
    }
    expect(await of('dedup-lib')).toEqual([ID(1), ID(2)].map((event_id) => ({ event_id, version: '1.0.0', platform: 'linux', arch: 'x64' })));
  });
});

describe('the rate limit counts the events in a POST', () => {
  it('--rate-limit 5: POSTs of 3 and 2 events pass, then a GET is 429; a POST of 6 from another sender is 429 and stores nothing', async () => {
    const r = await start(join(temps.make('ibc-clients-rl-'), 'events.db'), ['--rate-limit', '5', '--trust-proxy']);
    try {
      const from = (ip: string) => ['-H', `x-forwarded-for: ${ip}`];
      expect((await curl([...from('10.0.0.1'), '--json', '[{"version":"1"},{"version":"2"},{"version":"3"}]', '/t'], r.url)).status).toBe(200);
      expect((await curl([...from('10.0.0.1'), '-H', 'content-type: application/x-ndjson', '--data-binary', '{"version":"4"}\n{"version":"5"}', '/t'], r.url)).status).toBe(200);
      const spent = await curl([...from('10.0.0.1'), '/t?version=6'], r.url);
      expect([spent.status, spent.body]).toEqual([429, 'too many requests from this address; retry later\n']);
      expect((await curl([...from('10.0.0.1'), '--json', '{"version":"7"}', '/t'], r.url)).status).toBe(429); // refused before its body is read
      const six = JSON.stringify(Array.from({ length: 6 }, (_, i) => ({ version: `b${i}` })));
      expect((await curl([...from('10.0.0.2'), '--json', six, '/t'], r.url)).status).toBe(429);
      expect((await stored(r.url)).map((e) => e.version)).toEqual(['1', '2', '3', '4', '5']);
    } finally {
      await r.stop();
    }
  }, 60_000);
});

describe('durability: a POST is answered 200 only after its events are committed', () => {
  it('SIGKILL right after the answer: all of its events are in the database when it opens again', async () => {
    const db = join(temps.make('ibc-clients-kill-'), 'events.db');
    const first = await start(db);
    const body = Array.from({ length: 50 }, (_, i) => JSON.stringify({ version: `3.0.${i}` })).join('\n');
    const r = await curl(['-H', 'content-type: application/x-ndjson', '--data-binary', body, '/t'], first.url);
    expect(r.status).toBe(200);
    await first.stop('SIGKILL');
    const second = await start(db);
    try {
      expect((await stored(second.url)).map((e) => e.version)).toEqual(Array.from({ length: 50 }, (_, i) => `3.0.${i}`));
    } finally {
      await second.stop();
    }
  }, 60_000);
});

describe("@scarf/scarf 1.4.0's postinstall, unchanged, in a real npm install", () => {
  it("stores the depending package's name and version, platform, arch and Node version, and none of the hashes", async () => {
    const dir = temps.make('ibc-scarf-js-');
    // A library that depends on @scarf/scarf as an author wires it; @scarf/scarf comes bundled in its
    // tarball, so the install reads no registry (and the library is not the root package, which
    // @scarf/scarf would refuse to report).
    const lib = join(dir, 'acme-scarfed');
    mkdirSync(join(lib, 'node_modules', '@scarf'), { recursive: true });
    cpSync(join(FIXTURES, 'scarf-js'), join(lib, 'node_modules', '@scarf', 'scarf'), { recursive: true });
    writeFileSync(join(lib, 'package.json'), JSON.stringify({ name: 'acme-scarfed', version: '2.3.4', dependencies: { '@scarf/scarf': '1.4.0' }, bundleDependencies: ['@scarf/scarf'] }));
    await exec(...npmArgv(['pack', lib, '--pack-destination', dir, '--silent']));
    const app = join(dir, 'app');
    writeProject(app);
    const port = new URL(c.url).port;
    const tmp = temps.make('ibc-scarf-tmp-'); // its once-a-minute notice file goes here, not in /tmp
    const env = { SCARF_LOCAL_PORT: port, TMPDIR: tmp, SCARF_VERBOSE: 'true' };
    // SCARF_VERBOSE: it prints its payload and the answer's status; --foreground-scripts shows that output.
    let r = await npmLocal(app, ['install', join(dir, 'acme-scarfed-2.3.4.tgz'), '--foreground-scripts'], home(), env);
    expect(r.code).toBe(0);
    // @scarf/scarf gives `npm ls` 3 s and sends nothing when it takes longer (a loaded machine):
    // then, and only then, its postinstall runs again (npm rebuild of the library that bundles it), at most twice more.
    for (let i = 0; i < 2 && !(r.stdout + r.stderr).includes('Scarf payload:'); i++) {
      expect(r.stdout + r.stderr, r.stdout + r.stderr).toContain('Scarf received an error from npm -ls');
      r = await npmLocal(app, ['rebuild', 'acme-scarfed', '--foreground-scripts'], home(), env);
      expect(r.code).toBe(0);
    }
    // It sent (its own 3 s request timeout may have given up on the answer: the event is stored all the same).
    expect(r.stdout + r.stderr, r.stdout + r.stderr).toContain('Scarf payload:');
    await waitUntil('the @scarf/scarf event', async () => (await of('acme-scarfed')).length > 0);
    expect(await of('acme-scarfed')).toEqual([{ version: '2.3.4', platform: process.platform, arch: process.arch, node: process.versions.node }]);
    // It sent the sha256 hashes of the root package's name and version: no trace of them is stored.
    const everything = JSON.stringify(await stored());
    expect(everything).not.toMatch(/[0-9a-f]{64}/);
  }, 180_000);

  it('a GET to its path is 405; a body without the depending package is 400', async () => {
    expect((await curl(['/package-event/install'])).status).toBe(405);
    const r = await curl(['--json', '{"rawPlatform":"linux","dependencyInfo":{"rootPackage":{"nameHash":"x"}}}', '/package-event/install']);
    expect([r.status, r.body]).toEqual([400, 'the package name is not a valid npm package name\n']);
  });
});

describe.skipIf(postgresSkipped)('PostgreSQL: POSTs all or nothing, de-duplicated, and through the database going away', () => {
  let server: Postgres;
  let p: Proc;
  beforeAll(async () => {
    server = await startPostgres();
    p = await startBin(
      ['--port', '0', '--database-url', await server.createDatabase('posts'), '--route', '/{name}/{version}/{platform}/{arch}?event_id={event_id}'],
      baseEnv(home(), { INSTALL_BEACON_TOKEN: TOKEN, DATABASE_URL: undefined }),
    );
  }, 120_000);
  afterAll(async () => {
    await p?.stop();
    await server?.destroy();
  });
  const ndjson = (...ids: number[]) => ['-H', 'content-type: application/x-ndjson', '--data-binary', ids.map((n) => JSON.stringify({ event_id: ID(n), node: '22.0.0' })).join('\n')];

  it('a body with a repeated event_id, then its retry: each event stored once; a bad body: nothing', async () => {
    expect((await curl([...ndjson(11, 12, 11), '/pg-lib/1.0.0/linux/x64'], p.url)).status).toBe(200);
    expect((await curl([...ndjson(11, 12, 11), '/pg-lib/1.0.0/linux/x64'], p.url)).status).toBe(200);
    expect((await curl(['--json', '[{"node":"1"},{"node":"\\ud800"}]', '/pg-lib/1.0.0/linux/x64'], p.url)).status).toBe(400);
    expect((await stored(p.url)).map((e) => e.event_id)).toEqual([ID(11), ID(12)]);
  });

  it('PostgreSQL stopped: a POST is 503 and nothing of it is stored; back: its retry is stored once', async () => {
    await server.stop();
    try {
      const down = await curl([...ndjson(21, 22, 23), '/pg-lib/1.0.0/linux/x64'], p.url);
      expect([down.status, down.body]).toEqual([503, 'the database is unavailable; retry later\n']);
    } finally {
      await server.start();
    }
    await waitUntil('the retried POST to be stored', async () => (await curl([...ndjson(21, 22, 23), '/pg-lib/1.0.0/linux/x64'], p.url)).status === 200, 60_000);
    expect((await stored(p.url)).map((e) => e.event_id)).toEqual([11, 12, 21, 22, 23].map(ID));
  }, 120_000);
});
