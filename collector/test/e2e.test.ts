import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { npmLocal, NPM, packAcme, packBeacon, writeProject } from '../../test/support/fixture.js';
import { baseEnv, TempDirs } from '../../test/support/process.js';
import { BIN, killAll, startBin, type Proc } from './support/bin.js';
import { request, waitUntil } from './support/http.js';
import { postgresSkipped, startPostgres, type Postgres } from './support/postgres.js';

// The built collector as a real process, fed by real `npm install`s of a packed
// package that uses install-beacon, and read back through its API.

const temps = new TempDirs();
const TOKEN = 'e2e-token-0123456789abcdef';
const auth = { authorization: `Bearer ${TOKEN}` };
const env = (extra: Record<string, string> = {}) => baseEnv(temps.make('ibc-home-'), { INSTALL_BEACON_TOKEN: TOKEN, DATABASE_URL: undefined, ...extra });
const getJson = async (base: string, path: string, ca?: string) => {
  const r = await request(base, path, { headers: auth, ca });
  return { status: r.status, body: r.status === 200 || r.status === 404 ? JSON.parse(r.body) : r.body };
};

afterAll(() => {
  killAll();
  temps.cleanup();
});

describe('end to end: npm install -> install-beacon -> collector -> API', () => {
  let c: Proc;
  let beacon: string;
  let acme: string;
  let home: string;

  beforeAll(async () => {
    const dir = temps.make('ibc-e2e-');
    c = await startBin(['--port', '0', '--db', join(dir, 'events.db')], env());
    const tarballs = temps.make('ibc-tarballs-');
    home = temps.make('ibc-npm-home-');
    beacon = packBeacon(tarballs);
    // What the collector printed is what the author pastes; `delivery: inline` states the
    // context this test means (the hook sends before the install ends) instead of relying
    // on this machine being a container.
    const printed = c.lines.find((l) => l.trim().startsWith(c.url + '/'))!.trim();
    acme = packAcme(tarballs, { installBeacon: { url: printed, delivery: 'inline' } });
  }, 180_000);
  afterAll(async () => {
    await c?.stop();
  });

  it('each install is stored once and counted by the API; the fields are what the hook sent', async () => {
    const app = join(temps.make('ibc-app-'), 'app');
    writeProject(app);
    const first = await npmLocal(app, ['install', beacon, acme], home);
    expect(first.code, first.stderr).toBe(0);
    await waitUntil('one install counted', async () => (await getJson(c.url, '/api/downloads/point/last-day/acme-lib')).body.downloads === 1);

    const npmVersion = execFileSync(NPM, ['--version'], { encoding: 'utf8' }).trim();
    const r = await request(c.url, '/api/events.ndjson?package=acme-lib', { headers: auth });
    const events = r.body.trim().split('\n').map((l) => JSON.parse(l));
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ package: 'acme-lib', version: '2.3.4', platform: process.platform, arch: process.arch, pm: 'npm', pm_version: npmVersion, install: 'local', trigger: 'postinstall', ci: 'false' });
    expect(events[0].event_id).toMatch(/^[0-9a-f-]{36}$/);

    const again = await npmLocal(app, ['ci'], home);
    expect(again.code, again.stderr).toBe(0);
    await waitUntil('two installs counted', async () => (await getJson(c.url, '/api/downloads/point/last-day/acme-lib')).body.downloads === 2);
    expect((await getJson(c.url, '/api/versions/acme-lib/last-week')).body).toEqual({ package: 'acme-lib', downloads: { '2.3.4': 2 } });
    expect((await getJson(c.url, '/api/breakdown/trigger/last-week/acme-lib')).body.counts).toEqual({ postinstall: 2 });
    expect(JSON.parse((await request(c.url, '/badge/acme-lib.json')).body).message).toBe('2/week');
  });

  it('the packed collector holds its bundle, README with every file it links to, LICENSE and package.json, and the bundle needs nothing unpublished', () => {
    const out = JSON.parse(execFileSync(NPM, ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: join(BIN, '../..'), encoding: 'utf8' }));
    const files: string[] = out[0].files.map((f: { path: string }) => f.path).sort();
    expect(files.filter((f) => !f.startsWith('docs/'))).toEqual(['BENCHMARKS.md', 'LICENSE', 'README.md', 'dist/bin.cjs', 'package.json']);
    // The README's relative links and images (its pictures, BENCHMARKS.md) are in the tarball; nothing else under docs/ is.
    const readme = readFileSync(join(BIN, '../../README.md'), 'utf8');
    const linked = [...readme.matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)].map((m) => m[1]!).filter((t) => !/^[a-z]+:/.test(t));
    expect(linked.length).toBeGreaterThan(0);
    expect([...new Set(linked)].filter((t) => !files.includes(t))).toEqual([]);
    expect(files.filter((f) => f.startsWith('docs/') && !linked.includes(f))).toEqual([]);
    const requires = [...readFileSync(BIN, 'utf8').matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]);
    expect(requires.filter((r) => !r!.startsWith('node:') && !['better-sqlite3', 'pg'].includes(r!))).toEqual([]);
  });
});

describe('https with a self-signed certificate', () => {
  it('--tls-cert/--tls-key: the first line says https, and ingest and reads work over TLS', async () => {
    const dir = temps.make('ibc-tls-');
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'pipe' });
    const c = await startBin(['--port', '0', '--db', join(dir, 'tls.db'), '--tls-cert', cert, '--tls-key', key], env());
    try {
      expect(c.lines[0]).toMatch(/^install-beacon-collector listening on https:\/\/127\.0\.0\.1:\d+$/);
      const ca = readFileSync(cert, 'utf8');
      expect((await request(c.url, '/tls-lib/1.0.0/linux/x64?event_id=11111111-1111-4111-8111-111111111111', { ca })).status).toBe(200);
      expect((await getJson(c.url, '/api/downloads/point/last-day/tls-lib', ca)).body.downloads).toBe(1);
      // Over TLS the dashboard's session cookie is Secure too.
      const opened = await request(c.url, '/', { ca, method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${TOKEN}` });
      expect([opened.status, String(opened.headers['set-cookie'])]).toEqual([303, expect.stringMatching(/; HttpOnly; SameSite=Strict; Max-Age=\d+; Secure$/)]);
      // Without trusting the certificate the connection is refused by the client.
      await expect(request(c.url, '/healthz')).rejects.toThrow(/self-signed|certificate/);
    } finally {
      await c.stop();
    }
  });
});

describe.skipIf(postgresSkipped)('two instances on one PostgreSQL', () => {
  let server: Postgres;
  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(async () => {
    await server?.destroy();
  });

  it('a duplicated event_id sent to both is stored once; both answer the same counts', async () => {
    const url = await server.createDatabase('shared');
    const [a, b] = await Promise.all([startBin(['--port', '0', '--database-url', url], env()), startBin(['--port', '0'], env({ DATABASE_URL: url }))]);
    try {
      expect(a.lines[1]).toMatch(/^data: PostgreSQL postgres:\/\/postgres@127\.0\.0\.1:\d+\/shared$/);
      const path = (n: number) => `/pg-lib/1.0.0/linux/x64?event_id=22222222-2222-4222-8222-${String(n).padStart(12, '0')}`;
      const sends = [];
      for (let n = 0; n < 20; n++) sends.push(request(a.url, path(n)), request(b.url, path(n)));
      sends.push(request(b.url, path(100)));
      expect((await Promise.all(sends)).map((r) => r.status)).toEqual(Array(41).fill(200));
      for (const c of [a, b]) {
        expect((await getJson(c.url, '/api/downloads/point/last-day/pg-lib')).body.downloads).toBe(21);
        const ids = (await request(c.url, '/api/events.ndjson?package=pg-lib', { headers: auth })).body.trim().split('\n');
        expect(ids).toHaveLength(21);
      }
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});

describe('start-up failures', () => {
  it('a second collector on a busy port says so and exits 1 at once (its SQLite worker closed), for a supervisor to restart it', async () => {
    const dir = temps.make('ibc-busy-');
    const first = await startBin(['--port', '0', '--db', join(dir, 'a.db')], env());
    const port = new URL(first.url).port;
    // Without the fix the second one printed `listen EADDRINUSE` and never exited: startBin's 30 s bound then rejects with "did not start".
    await expect(startBin(['--port', port, '--db', join(dir, 'b.db')], env())).rejects.toThrow(/exited \(1\) before listening: install-beacon-collector: listen EADDRINUSE/);
    expect((await request(first.url, '/healthz')).status).toBe(200);
    await first.stop();
  });
  it('a bad option: a clear message on stderr and exit 1', async () => {
    await expect(startBin(['--port', 'x'], env())).rejects.toThrow(/exited \(1\).*--port must be a whole number/s);
  });
  it('a database with a newer schema is refused', async () => {
    const dir = temps.make('ibc-newer-');
    const file = join(dir, 'n.db');
    const c = await startBin(['--port', '0', '--db', file], env());
    await c.stop();
    const Database = (await import('better-sqlite3')).default;
    const db = new Database(file);
    db.prepare("UPDATE collector_meta SET value = '99' WHERE key = 'schema_version'").run();
    db.close();
    await expect(startBin(['--port', '0', '--db', file], env())).rejects.toThrow(/exited \(1\).*schema version 99, newer than this collector knows/s);
  });
});

