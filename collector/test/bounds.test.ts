import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PICKER, TOP } from '../src/dashboard.js';
import { parseConfig } from '../src/config.js';
import { start, type Running } from '../src/main.js';
import { openSqlite } from '../src/storage/sqlite.js';
import { BIN } from './support/bin.js';
import { request } from './support/http.js';

// Issue 20 (items 1 and 11): anyone can send, so what one page renders and what the database tracks
// are bounded; sender-chosen text never takes the page's headline; junk can be deleted.

const dirs: string[] = [];
const running: Running[] = [];
const TOKEN = 'bounds-token-0123456789abcdef';
const auth = { authorization: `Bearer ${TOKEN}` };
const today = () => new Date().toISOString().slice(0, 10);

async function collector(args: string[]): Promise<Running & { dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'ibc-bounds-'));
  dirs.push(dir);
  const parsed = parseConfig(['--port', '0', '--db', join(dir, 'e.db'), '--rate-limit', '0', ...args], { INSTALL_BEACON_TOKEN: TOKEN }, dir);
  if (parsed.ok !== true) throw new Error(parsed.ok === false ? parsed.error : 'help');
  const r = await start(parsed.config, () => {});
  running.push(r);
  return Object.assign(r, { dir });
}
afterAll(async () => {
  for (const r of running) await r.close().catch(() => {});
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

// A junk name that sorts first: a sentence with spaces is refused at ingest (test/hostile-ingest.test.ts),
// so this one keeps to what npm names allow, which the dashboard must still not make its headline.
const NOTICE = '!!!security-notice.re-enter-your-token-at-evil.example';
// A random-looking 40-character value, deterministic per (field, i).
const junk = (field: string, i: number) => `${field}-${i}-`.padEnd(40, 'qwertyuiopasdfghjklzxcvbnm'[i % 26]!);
const JUNK_FIELDS = ['node', 'ci', 'ci_name', 'container', 'pm', 'pm_version', 'install', 'libc', 'libc_version', 'trigger', 'direct', 'beacon_version'];

describe('the dashboard against junk (a real server, real ingest GETs)', () => {
  it('a junk package that sorts first does not take the <h1>: the package with most installs does (or the route\'s own package); ?package= text is not echoed', async () => {
    const c = await collector([]);
    for (let i = 0; i < 3; i++) expect((await request(c.url, `/acme-lib/1.0.0/linux/x64?event_id=a${i}`)).status).toBe(200);
    expect((await request(c.url, `/${encodeURIComponent(NOTICE)}/1.0.0/linux/x64`)).status).toBe(200);
    const home = await request(c.url, '/', { headers: auth });
    expect(home.body).toContain('<h1>acme-lib</h1>');
    const asked = await request(c.url, `/?package=${encodeURIComponent('Call +1-555-0100 to keep your account')}`, { headers: auth });
    expect(asked.body).not.toContain('555-0100');
    expect(asked.body).toContain('<h1>acme-lib</h1>');
    // The route's own package wins even with fewer installs.
    const own = await collector(['--route', 'acme-lib=/beacon/{version}', '--route', '/{name}/{version}']);
    expect((await request(own.url, '/beacon/1.0.0')).status).toBe(200);
    for (let i = 0; i < 2; i++) expect((await request(own.url, `/${encodeURIComponent(NOTICE)}/1.0.0`)).status).toBe(200);
    expect((await request(own.url, '/', { headers: auth })).body).toContain('<h1>acme-lib</h1>');
  });

  it(`junk values in 12 variables and junk package names: each table shows at most ${TOP} values and "(other values)" with the rest; the picker at most ${PICKER}; the API gives values past --max-values as "other"`, async () => {
    const c = await collector(['--max-values', '50']);
    const N = 300;
    for (let i = 0; i < N; i++) {
      const q = new URLSearchParams(Object.fromEntries(JUNK_FIELDS.map((f) => [f, junk(f, i)])));
      expect((await request(c.url, `/acme-lib/${junk('v', i)}/linux/x64?${q}`)).status).toBe(200);
    }
    for (let i = 0; i < 60; i++) expect((await request(c.url, `/junk-${i}/1.0.0/linux/x64`)).status).toBe(200);
    const b = JSON.parse((await request(c.url, '/api/breakdown/pm/last-day/acme-lib', { headers: auth })).body);
    expect([Object.keys(b.counts).length, b.other]).toEqual([50, N - 50]);
    const page = (await request(c.url, '/?package=acme-lib', { headers: auth })).body;
    for (const f of ['pm', 'ci_name', 'libc_version']) {
      const table = new RegExp(`data-field="${f}">[\\s\\S]*?</tbody>`).exec(page)![0];
      const counts = [...table.matchAll(/<td class="num">(\d+)<\/td>/g)].map((m) => Number(m[1]));
      // OTHER holds the 250 values past --max-values, so it ranks first: TOP rows in all at most, OTHER's included.
      expect([f, Math.min(counts.length, TOP + 1), counts.reduce((a, n) => a + n, 0)]).toEqual([f, counts.length, N]);
      expect(counts.length).toBeGreaterThanOrEqual(TOP);
      expect(table).toContain('<tr class="other"><td>(other values)</td>');
    }
    expect([...page.matchAll(/<option value="junk-/g)].length).toBeLessThanOrEqual(PICKER);
    expect(page).toContain('name="package" aria-label="package name"');
  });
});

describe('prune and counts retention', () => {
  it('`prune` deletes a junk package, every package but the kept ones, or one value (its counts move to "other"); a bad call exits 1 with a message', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ibc-prune-'));
    dirs.push(dir);
    const file = join(dir, 'p.db');
    const s = openSqlite(file);
    await s.migrate();
    const at = Date.now();
    await s.insertBatch([
      { package: 'acme-lib', eventId: '1', receivedAt: at, vars: { version: '1.0.0' } },
      { package: 'acme-lib', eventId: '2', receivedAt: at, vars: { version: 'zzjunk' } },
      { package: NOTICE, eventId: '3', receivedAt: at, vars: {} },
      { package: 'junk-a', eventId: '4', receivedAt: at, vars: {} },
    ]);
    await s.close();
    const run = (...args: string[]) => spawnSync(process.execPath, [BIN, 'prune', '--db', file, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH } });
    const one = run('--package', NOTICE);
    expect([one.status, one.stdout.trim(), one.stderr]).toEqual([0, `pruned 1 raw events and 3 count rows from SQLite ${file} (WAL)`, '']);
    expect(run('--keep', 'acme-lib').status).toBe(0);
    expect(run('--package', 'acme-lib', '--field', 'version', '--value', 'zzjunk').status).toBe(0);
    const bad = run('--field', 'version');
    expect([bad.status, bad.stderr]).toEqual([1, 'install-beacon-collector: prune: --field and --value go together\n']);
    const t = openSqlite(file);
    expect(await t.packages()).toEqual(['acme-lib']);
    expect(await t.breakdown('acme-lib', 'version', today(), today())).toEqual({ '1.0.0': 1, '\u0001other': 1 });
    expect((await t.events({ since: 0, afterId: 0, limit: 10 })).map((e) => e.eventId)).toEqual(['1']);
    await t.close();
  });

  it('--counts-retention-days deletes the daily counts of older days at start; without it they stay', async () => {
    const c = await collector(['--counts-retention-days', '30']);
    const old = Date.now() - 40 * 86_400_000;
    await c.storage.insertBatch([{ package: 'acme-lib', eventId: 'old', receivedAt: old, vars: {} }, { package: 'acme-lib', eventId: 'new', receivedAt: Date.now(), vars: {} }]);
    const day = new Date(old).toISOString().slice(0, 10);
    expect(Object.fromEntries(await c.storage.daily('acme-lib', day, day))).toEqual({ [day]: 1 });
    await c.close();
    const parsed = parseConfig(['--port', '0', '--db', join(c.dir, 'e.db'), '--counts-retention-days', '30'], { INSTALL_BEACON_TOKEN: TOKEN }, c.dir);
    if (parsed.ok !== true) throw new Error('config');
    const r = await start(parsed.config, () => {});
    running.push(r);
    const gone = async () => (await r.storage.daily('acme-lib', '2000-01-01', '2100-01-01')).size === 1;
    for (let i = 0; i < 100 && !(await gone()); i++) await new Promise((res) => setTimeout(res, 50));
    expect(Object.fromEntries(await r.storage.daily('acme-lib', '2000-01-01', '2100-01-01'))).toEqual({ [today()]: 1 });
  });
});
