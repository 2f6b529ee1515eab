import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageName } from '../src/api.js';
import { parseConfig } from '../src/config.js';
import { openSqlite } from '../src/storage/sqlite.js';
import { start, type Running } from '../src/main.js';
import { request, waitUntil } from './support/http.js';
import { postgresSkipped, startPostgres, type Postgres } from './support/postgres.js';

// The HTTP surface on a real server (127.0.0.1, port 0) over a real database.

const dirs: string[] = [];
const running: Running[] = [];
const TOKEN = 'test-token-0123456789abcdef';

async function collector(args: string[], env: Record<string, string> = { INSTALL_BEACON_TOKEN: TOKEN }): Promise<Running & { lines: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'ibc-api-'));
  dirs.push(dir);
  const parsed = parseConfig(['--port', '0', ...args], env, dir);
  if (parsed.ok !== true) throw new Error(parsed.ok === false ? parsed.error : 'help');
  const lines: string[] = [];
  const r = await start(parsed.config, (l) => lines.push(l));
  running.push(r);
  return Object.assign(r, { lines });
}

afterAll(async () => {
  for (const r of running) await r.close().catch(() => {});
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const today = () => new Date().toISOString().slice(0, 10);
const days7 = (day: string) => new Date(Date.parse(day) - 6 * 86_400_000).toISOString().slice(0, 10);
const auth = { authorization: `Bearer ${TOKEN}` };
const ID = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

describe('ingest and read API (SQLite)', () => {
  let c: Awaited<ReturnType<typeof collector>>;
  const get = (path: string, headers: Record<string, string> = auth, method = 'GET') => request(c.url, path, { headers, method });
  const point = async (pkg: string) => JSON.parse((await get(`/api/downloads/point/last-day/${pkg}`)).body).downloads as number;

  beforeAll(async () => {
    c = await collector([]);
  });

  it('prints the listening line first, then where the data lives, the route, the token and the dashboard', () => {
    expect(c.lines[0]).toBe(`install-beacon-collector listening on ${c.url}`);
    expect(c.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(c.lines.join('\n')).toContain(`${c.url}/{name}/{version}/{platform}/{arch}?node={node}&ci={ci}`);
    // A token the operator supplied is never printed (journald keeps what a service prints), nor put in an address.
    expect(c.lines).toContain('read token: the one in INSTALL_BEACON_TOKEN (not printed)');
    expect(c.lines).toContain(`dashboard: ${c.url}/ (sign in with the read token)`);
    expect(c.lines.join('\n')).not.toContain(TOKEN);
  });

  it('GET and HEAD store an event and answer 200 with an empty body; the same event_id again is 200 and stored once', async () => {
    const url = `/acme-lib/1.2.3/linux/x64?ci=false&pm=npm&event_id=${ID(1)}`;
    for (const method of ['GET', 'GET', 'HEAD']) {
      const r = await get(url, {}, method);
      expect([r.status, r.body]).toEqual([200, '']);
    }
    expect((await get(`/acme-lib/1.2.4/linux/arm64?ci=true&pm=pnpm&event_id=${ID(2)}`, {}, 'HEAD')).status).toBe(200);
    expect((await get('/acme-lib/1.2.4/darwin/arm64?ci=true', {})).status).toBe(200); // no event_id: counted
    expect(await point('acme-lib')).toBe(3);
  });

  it.each([
    ['PUT', '/acme-lib/1/linux/x64', 405, 'only GET, HEAD and POST are accepted'],
    ['DELETE', '/acme-lib/1/linux/x64', 405, 'only GET, HEAD and POST are accepted'],
    ['GET', '/acme-lib/1/linux', 404, 'no route matches this URL'],
    ['GET', `/acme-lib/1/linux/x64?ci=${'a'.repeat(2100)}`, 414, 'URL longer than 2048 bytes'],
    ['GET', `/acme-lib/${'9'.repeat(201)}/linux/x64`, 400, 'a value is longer than 200 characters'],
    ['GET', '/acme-lib/%00/linux/x64', 400, 'a value holds control characters'],
    ['GET', '/acme-lib/%FF%FE/linux/x64', 400, 'a value is not valid percent-encoded UTF-8'],
    ['GET', '/acme-lib/../linux/x64', 400, 'the path holds a "." or ".." segment'],
  ])('%s %s -> %d "%s", nothing stored', async (method, path, status, reason) => {
    const before = await point('acme-lib');
    const r = await get(path, {}, method);
    expect([r.status, r.body, r.headers['content-type']]).toEqual([status, reason + '\n', 'text/plain; charset=utf-8']);
    expect(await point('acme-lib')).toBe(before);
  });

  it('point, range, versions and breakdown in the npm download-counts shapes, ending today', async () => {
    const t = today();
    expect(JSON.parse((await get('/api/downloads/point/last-day/acme-lib')).body)).toEqual({ downloads: 3, start: t, end: t, package: 'acme-lib' });
    const range = JSON.parse((await get('/api/downloads/range/last-week/acme-lib')).body);
    expect(range.end).toBe(t);
    expect(range.package).toBe('acme-lib');
    expect(range.downloads).toHaveLength(7);
    expect(range.downloads[6]).toEqual({ day: t, downloads: 3 });
    expect(range.downloads.slice(0, 6).every((d: { downloads: number }) => d.downloads === 0)).toBe(true);
    expect(JSON.parse((await get('/api/versions/acme-lib/last-week')).body)).toEqual({ package: 'acme-lib', downloads: { '1.2.3': 1, '1.2.4': 2 } });
    expect(JSON.parse((await get(`/api/breakdown/arch/${t}/acme-lib`)).body)).toEqual({ package: 'acme-lib', start: t, end: t, field: 'arch', counts: { x64: 1, arm64: 2 } });
    expect(JSON.parse((await get('/api/breakdown/pm/last-month/acme-lib')).body).counts).toEqual({ npm: 1, pnpm: 1 });
  });

  it('scoped names as @scope/name and @scope%2Fname', async () => {
    expect((await get(`/%40acme%2Fcore/3.0.0/linux/x64?event_id=${ID(3)}`, {})).status).toBe(200);
    for (const name of ['@acme/core', '@acme%2Fcore', '%40acme%2Fcore']) {
      expect(JSON.parse((await get(`/api/downloads/point/last-week/${name}`)).body)).toMatchObject({ downloads: 1, package: '@acme/core' });
      expect(JSON.parse((await get(`/api/versions/${name}/last-week`)).body)).toEqual({ package: '@acme/core', downloads: { '3.0.0': 1 } });
    }
    expect(JSON.parse((await request(c.url, '/badge/@acme/core.json')).body).message).toBe('1/week');
  });

  it('errors: unknown package 404, bad period 400, unknown field 400, no or wrong token 401', async () => {
    const unknown = await get('/api/downloads/point/last-week/nope');
    expect([unknown.status, JSON.parse(unknown.body)]).toEqual([404, { error: 'package nope not found' }]);
    expect((await get('/api/downloads/point/last-century/acme-lib')).status).toBe(400);
    expect((await get('/api/breakdown/event_id/last-week/acme-lib')).status).toBe(400);
    expect((await get('/api/breakdown/a%20b/last-week/acme-lib')).status).toBe(400);
    // Any other variable's name is a breakdown (none sent: no counts).
    const own = await get('/api/breakdown/python/last-week/acme-lib');
    expect([own.status, JSON.parse(own.body).counts]).toEqual([200, {}]);
    for (const headers of [{}, { authorization: "Bearer wrong" }, { authorization: TOKEN }] as Array<Record<string, string>>) {
      for (const path of ['/api/downloads/point/last-week/acme-lib', '/api/events.ndjson', '/']) {
        const r = await get(path, headers);
        expect([path, r.status, r.headers['www-authenticate']]).toEqual([path, 401, 'Bearer']);
      }
    }
    // Signing in is a POST of the form: the token becomes an HttpOnly, SameSite=Strict session cookie, and the view asked for is kept.
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const opened = await request(c.url, '/', { method: 'POST', headers: form, body: `token=${TOKEN}&range=7` });
    expect([opened.status, opened.headers.location]).toEqual([303, '/?range=7']);
    const cookie = String(opened.headers['set-cookie']).split(';')[0]!;
    expect(String(opened.headers['set-cookie'])).toMatch(/; HttpOnly; SameSite=Strict/);
    expect(cookie).not.toContain(TOKEN);
    expect((await get('/?range=7', { cookie })).status).toBe(200);
    expect((await get('/?range=7', { cookie: cookie + 'x' })).status).toBe(401);
    expect((await get('/api/downloads/point/last-week/acme-lib', { cookie })).status).toBe(401); // the cookie opens the dashboard only
    expect((await request(c.url, '/', { method: 'POST', headers: form, body: `token=wrong${TOKEN}` })).status).toBe(401);
    // A token in the address opens nothing and sets no cookie (it would land in access logs).
    const inAddress = await get(`/?token=${TOKEN}&range=7`, {});
    expect([inAddress.status, inAddress.headers['set-cookie']]).toEqual([401, undefined]);
    expect((await get('/api/events.ndjson?token=' + TOKEN, {})).status).toBe(401);
  });

  it('events.ndjson streams the stored events, one JSON object a line: exactly the variables and the receipt time', async () => {
    const r = await get('/api/events.ndjson?package=acme-lib');
    expect(r.headers['content-type']).toBe('application/x-ndjson; charset=utf-8');
    const events = r.body.trim().split('\n').map((l) => JSON.parse(l));
    expect(events).toHaveLength(3);
    expect(events[0]).toEqual({ package: 'acme-lib', received_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), event_id: ID(1), version: '1.2.3', platform: 'linux', arch: 'x64', ci: 'false', pm: 'npm' });
    const future = await get(`/api/events.ndjson?since=${new Date(Date.now() + 60_000).toISOString()}`);
    expect(future.body).toBe('');
  });

  it('badges: the shields endpoint JSON exactly, and an SVG; public, like /healthz', async () => {
    const j = await request(c.url, '/badge/acme-lib.json');
    expect(j.status).toBe(200);
    expect(JSON.parse(j.body)).toEqual({ schemaVersion: 1, label: 'installs', message: '3/week', color: 'brightgreen' });
    const s = await request(c.url, '/badge/acme-lib.svg');
    expect(s.headers['content-type']).toBe('image/svg+xml');
    expect(s.body).toContain('<title>installs: 3/week</title>');
    const h = await request(c.url, '/healthz');
    expect([h.status, JSON.parse(h.body).ok]).toEqual([200, true]);
    // A name no event could carry is not looked up: 404, with no badge of 0 a week.
    for (const name of ['_hidden', '.dot', 'a%20b', 'x'.repeat(215)]) expect([name.slice(0, 9), (await request(c.url, `/badge/${name}.json`)).status]).toEqual([name.slice(0, 9), 404]);
  });
});

describe('packageName: a path segment to a package name, by the rule ingest stores names by', () => {
  it.each([
    ['acme-lib', 'acme-lib'],
    ['@acme/core', '@acme/core'],
    ['@acme%2Fcore', '@acme/core'],
    ['%40acme%2Fcore', '@acme/core'],
    ['JSONStream', 'JSONStream'],
    ['x'.repeat(214), 'x'.repeat(214)],
    ['x'.repeat(215), undefined],
    ['_hidden', undefined],
    ['.dot', undefined],
    ['a%20b', undefined],
    ['..%2F..', undefined],
    ['%E0%A4%A', undefined],
    ['@acme/core/extra', undefined],
    ['node_modules', undefined],
    ['<b>x</b>', undefined],
  ])('%s', (rest, name) => {
    expect(packageName(rest)).toBe(name);
  });
});

describe("npm's counts API at npm's paths (and under /api/)", () => {
  let c: Awaited<ReturnType<typeof collector>>;
  const get = (path: string, headers: Record<string, string> = auth, method = 'GET') => request(c.url, path, { headers, method });
  const body = async (path: string) => {
    const r = await get(path);
    return [r.status, JSON.parse(r.body)];
  };
  const t = today();

  beforeAll(async () => {
    c = await collector([]);
    for (const path of ['/acme-lib/1.0.0/linux/x64', '/acme-lib/1.1.0/linux/x64', '/other-lib/2.0.0/darwin/arm64', '/%40acme%2Fcore/3.0.0/linux/x64']) expect((await get(path, {})).status).toBe(200);
  });

  it('a read path is never stored as an event, though the default route matches it', async () => {
    for (const path of ['/downloads/point/last-day/acme-lib', '/downloads/range/last-day/acme-lib', '/versions/acme-lib/last-week', '/downloads/point/last-day']) {
      expect((await get(path, {})).status).toBe(401); // a read, behind the token
      expect((await get(path)).status).toBe(200);
    }
    const stored = (await get('/api/events.ndjson')).body.trim().split('\n').map((l) => JSON.parse(l).package);
    expect(stored.sort()).toEqual(['@acme/core', 'acme-lib', 'acme-lib', 'other-lib']);
  });

  it.each(['', '/api'])('point and range of one package at %s/downloads/...', async (prefix) => {
    expect(await body(`${prefix}/downloads/point/last-week/acme-lib`)).toEqual([200, { downloads: 2, start: days7(t), end: t, package: 'acme-lib' }]);
    expect(await body(`${prefix}/downloads/point/last-month/@acme/core`)).toEqual([200, { downloads: 1, start: expect.any(String), end: t, package: '@acme/core' }]);
    const [status, range] = await body(`${prefix}/downloads/range/${t}/other-lib`);
    expect([status, range]).toEqual([200, { start: t, end: t, package: 'other-lib', downloads: [{ day: t, downloads: 1 }] }]);
    expect(await body(`${prefix}/downloads/point/last-week/nope`)).toEqual([404, { error: 'package nope not found' }]);
  });

  it('bulk: up to 128 unscoped names, comma-separated; an unknown one is null', async () => {
    expect(await body('/downloads/point/last-day/acme-lib,nope,other-lib')).toEqual([200, {
      'acme-lib': { downloads: 2, start: t, end: t, package: 'acme-lib' },
      nope: null,
      'other-lib': { downloads: 1, start: t, end: t, package: 'other-lib' },
    }]);
    expect(await body(`/api/downloads/range/${t}/acme-lib,other-lib`)).toEqual([200, {
      'acme-lib': { start: t, end: t, package: 'acme-lib', downloads: [{ day: t, downloads: 2 }] },
      'other-lib': { start: t, end: t, package: 'other-lib', downloads: [{ day: t, downloads: 1 }] },
    }]);
    // 128 names of 20 characters: a URL past 2048 bytes is still a read (npm's bound is the count).
    const many = ['acme-lib', ...Array.from({ length: 127 }, (_, i) => `unknown-package-${String(i).padStart(4, '0')}`)];
    const [status, out] = await body(`/downloads/point/last-day/${many.join(',')}`);
    expect([status, Object.keys(out).length, out['acme-lib'].downloads, out['unknown-package-0126']]).toEqual([200, 128, 2, null]);
    expect(await body(`/downloads/point/last-day/${[...many, 'one-more'].join(',')}`)).toEqual([400, { error: 'bulk lookups are limited to 128 packages' }]);
    expect(await body('/downloads/point/last-day/acme-lib,@acme/core')).toEqual([400, { error: 'scoped packages are not currently supported in bulk lookups' }]);
    expect(await body('/downloads/point/2025-01-01:2026-06-30/acme-lib,other-lib')).toEqual([400, { error: 'exceeded max days of 365' }]);
  });

  it('no package: every package\'s installs, without a package key', async () => {
    expect(await body('/downloads/point/last-day')).toEqual([200, { downloads: 4, start: t, end: t }]);
    expect(await body(`/api/downloads/range/${t}`)).toEqual([200, { start: t, end: t, downloads: [{ day: t, downloads: 4 }] }]);
    expect((await get('/downloads/point/last-century')).status).toBe(400);
  });

  it.each(['last-day', 'last-week', 'last-month', t])('per version at /versions/NAME/%s and /api/versions/NAME/...', async (period) => {
    for (const prefix of ['', '/api']) {
      expect(await body(`${prefix}/versions/acme-lib/${period}`)).toEqual([200, { package: 'acme-lib', downloads: { '1.0.0': 1, '1.1.0': 1 } }]);
      expect(await body(`${prefix}/versions/@acme%2Fcore/${period}`)).toEqual([200, { package: '@acme/core', downloads: { '3.0.0': 1 } }]);
    }
  });

  it('CORS: every API answer allows any origin (no cookie is taken); OPTIONS answers the preflight; the token is still needed', async () => {
    for (const path of ['/badge/acme-lib.svg', '/downloads/point/last-day/acme-lib', '/api/breakdown/arch/last-week/acme-lib']) {
      const pre = await get(path, { origin: 'https://docs.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' }, 'OPTIONS');
      expect([pre.status, pre.headers['access-control-allow-origin'], pre.headers['access-control-allow-methods'], pre.headers['access-control-allow-headers']]).toEqual([204, '*', 'GET, HEAD', 'Authorization']);
      expect((await get(path, { origin: 'https://docs.example', ...auth })).headers['access-control-allow-origin']).toBe('*');
    }
    const denied = await get('/downloads/point/last-day/acme-lib', { origin: 'https://docs.example' });
    expect([denied.status, denied.headers['access-control-allow-origin']]).toEqual([401, '*']);
    // The dashboard is not an API: no CORS there.
    expect((await get('/', auth)).headers['access-control-allow-origin']).toBeUndefined();
  });

  it('--public: counts and badges with Access-Control-Allow-Origin: *, no token', async () => {
    const p = await collector(['--public'], {});
    expect((await request(p.url, '/acme-lib/1.0.0/linux/x64')).status).toBe(200);
    for (const path of ['/downloads/point/last-day/acme-lib', '/badge/acme-lib.json']) {
      const r = await request(p.url, path, { headers: { origin: 'https://docs.example' } });
      expect([r.status, r.headers['access-control-allow-origin']]).toEqual([200, '*']);
    }
  });
});

describe('--public, a generated token, and the rate limit', () => {
  it('--public: the read API answers without a token', async () => {
    const c = await collector(['--public'], {});
    expect(c.lines).toContain('read token: none (--public: the read API is open)');
    expect((await request(c.url, '/acme/1/linux/x64')).status).toBe(200);
    expect(JSON.parse((await request(c.url, '/api/downloads/point/last-day/acme')).body).downloads).toBe(1);
  });

  it('without INSTALL_BEACON_TOKEN a token is generated at first start, stored, printed that once, and the same at the next start', async () => {
    const c = await collector([], {});
    const line = c.lines.find((l) => l.startsWith('read token: '))!;
    const token = /^read token: (\S+) \(generated now and stored in the database; /.exec(line)![1]!;
    expect(token.length).toBeGreaterThanOrEqual(24);
    const db = c.lines.find((l) => l.startsWith('data: '))!.replace(/^data: SQLite (.*) \(WAL\)$/, '$1');
    await c.close();
    const again = await collector(['--db', db], {});
    expect(again.lines.join('\n')).not.toContain(token);
    expect(again.lines.find((l) => l.startsWith('read token: '))).toMatch(/^read token: stored in the database \(/);
    expect((await request(again.url, '/api/events.ndjson', { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
  });

  it('--rate-limit: one address over the limit gets 429 (nothing stored); another address is still served', async () => {
    const c = await collector(['--rate-limit', '3', '--trust-proxy', '--public'], {});
    const from = (ip: string, n: number) => request(c.url, `/acme/1/linux/x64?event_id=${ip}-${n}`, { headers: { 'x-forwarded-for': ip } });
    const flood = [];
    for (let i = 0; i < 6; i++) flood.push((await from('203.0.113.9', i)).status);
    expect(flood).toEqual([200, 200, 200, 429, 429, 429]);
    expect((await from('198.51.100.7', 0)).status).toBe(200);
    expect(JSON.parse((await request(c.url, '/api/downloads/point/last-day/acme')).body).downloads).toBe(4);
  });

  it('--rate-limit counts an IPv6 sender per /64 (any spelling) and an IPv4-mapped address as its IPv4 address; X-Forwarded-For only with --trust-proxy', async () => {
    const c = await collector(['--rate-limit', '3', '--trust-proxy', '--public'], {});
    const from = (ip: string, id: string) => request(c.url, `/acme/1/linux/x64?event_id=${id}`, { headers: { 'x-forwarded-for': `198.51.100.1, ${ip}` } });
    // Six addresses of 2001:db8:0:7::/64, spelled differently: one budget of 3.
    const sameNet = ['2001:db8:0:7::1', '2001:DB8:0:7::2', '2001:0db8:0000:0007:ffff:ffff:ffff:ffff', '[2001:db8:0:7:1:2:3:4]', '2001:db8::7:0:0:0:5%eth0', '2001:db8:0:7::9'];
    const replies = [];
    for (const [i, ip] of sameNet.entries()) replies.push(await from(ip, `v6-${i}`));
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 429, 429, 429]);
    expect(replies.slice(3).map((r) => [r.headers['retry-after'], r.body])).toEqual(Array(3).fill(['60', 'too many requests from this address; retry later\n']));
    // The neighbouring /64 has its own budget.
    expect((await from('2001:db8:0:8::1', 'v6-next')).status).toBe(200);
    // ::ffff:203.0.113.5 is 203.0.113.5 (what Node reports on a dual-stack socket).
    const v4 = [];
    for (const [i, ip] of ['203.0.113.5', '::ffff:203.0.113.5', '::FFFF:cb00:7105', '203.0.113.5'].entries()) v4.push((await from(ip, `v4-${i}`)).status);
    expect(v4).toEqual([200, 200, 200, 429]);
    expect(JSON.parse((await request(c.url, '/api/downloads/point/last-day/acme')).body).downloads).toBe(7);
    // Without --trust-proxy the header is the client's word: the peer (127.0.0.1) is counted.
    const direct = await collector(['--rate-limit', '1', '--public'], {});
    const sent = [];
    for (const ip of ['2001:db8:1::1', '2001:db8:2::1']) sent.push((await request(direct.url, `/acme/1/linux/x64?event_id=direct-${ip}`, { headers: { 'x-forwarded-for': ip } })).status);
    expect(sent).toEqual([200, 429]);
  });
});

describe('--retention-days', () => {
  it('raw events older than the retention period are deleted at start; their daily counts stay', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ibc-retention-'));
    dirs.push(dir);
    const file = join(dir, 'r.db');
    const s = openSqlite(file);
    await s.migrate();
    const old = Date.now() - 3 * 86_400_000;
    await s.insertBatch([1, 2, 3].map((i) => ({ package: 'old-lib', eventId: `old-${i}`, receivedAt: old, vars: { version: '1.0.0' } })));
    await s.insertBatch([{ package: 'old-lib', eventId: 'new-1', receivedAt: Date.now(), vars: { version: '1.0.0' } }]);
    await s.close();
    const c = await collector(['--db', file, '--retention-days', '2', '--public'], {});
    const ids = async () => (await request(c.url, '/api/events.ndjson?package=old-lib')).body.trim().split('\n').map((l) => JSON.parse(l).event_id);
    await waitUntil('the old raw events to be deleted', async () => (await ids()).length === 1);
    expect(await ids()).toEqual(['new-1']);
    expect(JSON.parse((await request(c.url, '/api/downloads/point/last-week/old-lib')).body).downloads).toBe(4);
    // Within the retention period an event_id is still de-duplicated.
    expect((await request(c.url, '/old-lib/1.0.0/linux/x64?event_id=new-1')).status).toBe(200);
    expect(JSON.parse((await request(c.url, '/api/downloads/point/last-week/old-lib')).body).downloads).toBe(4);
  });
});

describe.skipIf(postgresSkipped)('PostgreSQL: the database going away and coming back', () => {
  let server: Postgres;
  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(async () => {
    await server?.destroy();
  });

  it('while PostgreSQL is down: 503 for ingest and /healthz, no crash; once it is back, ingest resumes by itself', async () => {
    const c = await collector(['--database-url', await server.createDatabase('down'), '--public'], {});
    expect(c.lines[1]).toMatch(/^data: PostgreSQL postgres:\/\/postgres@127\.0\.0\.1:\d+\/down$/);
    expect((await request(c.url, `/acme/1/linux/x64?event_id=${ID(1)}`)).status).toBe(200);
    await server.stop();
    const down = await request(c.url, `/acme/1/linux/x64?event_id=${ID(2)}`);
    expect([down.status, down.body]).toEqual([503, 'the database is unavailable; retry later\n']);
    expect((await request(c.url, '/healthz')).status).toBe(503);
    await server.start();
    await waitUntil('ingest to succeed again', async () => (await request(c.url, `/acme/1/linux/x64?event_id=${ID(2)}`)).status === 200);
    expect((await request(c.url, '/healthz')).status).toBe(200);
    expect(JSON.parse((await request(c.url, '/api/downloads/point/last-day/acme')).body).downloads).toBe(2);
  });
});
