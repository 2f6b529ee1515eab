import Database from 'better-sqlite3';
import { copyFileSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgres } from '../src/storage/postgres.js';
import { openSqlite } from '../src/storage/sqlite.js';
import { openSqliteInWorker } from '../src/storage/sqlite-worker.js';
import { BIN } from './support/bin.js';
import { OTHER, SCHEMA_VERSION, type Filter, type Limits, type NewEvent, type Storage } from '../src/storage/types.js';
import { postgresSkipped, startPostgres, type Postgres } from './support/postgres.js';

// One suite, two databases: a real SQLite file and a real PostgreSQL server.

interface Backend {
  name: string;
  /** A fresh, empty database; open() may be called several times on it (several instances). */
  fresh(): Promise<{ open(limits?: Limits): Storage; raw(sql: string): Promise<void> }>;
}

let dir: string;
let server: Postgres;
let n = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ibc-storage-'));
  if (!postgresSkipped) server = await startPostgres();
});
afterAll(async () => {
  await server?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

const backends: Backend[] = [
  {
    name: 'SQLite',
    async fresh() {
      const file = join(dir, `db-${++n}.db`);
      return {
        open: (limits) => openSqlite(file, limits),
        async raw(sql) {
          const db = new Database(file);
          db.exec(sql);
          db.close();
        },
      };
    },
  },
  {
    // What the built collector runs: the same SQLite code in a worker thread (the bundle is the worker script).
    name: 'SQLite in a worker thread',
    async fresh() {
      const file = join(dir, `db-${++n}.db`);
      return {
        open: (limits) => openSqliteInWorker(file, BIN, limits),
        async raw(sql) {
          const db = new Database(file);
          db.exec(sql);
          db.close();
        },
      };
    },
  },
  {
    name: 'PostgreSQL',
    async fresh() {
      const url = await server.createDatabase(`t${++n}`);
      return {
        open: (limits) => openPostgres(url, limits),
        async raw(sql) {
          const c = new pg.Client({ connectionString: url });
          await c.connect();
          await c.query(sql);
          await c.end();
        },
      };
    },
  },
];

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 10, 20, 12); // 2026-11-20 12:00 UTC
const ev = (eventId: string | null, day: number, vars: Record<string, string> = {}, pkg = 'acme'): NewEvent => ({ package: pkg, eventId, receivedAt: T0 + day * DAY, vars: { version: '1.0.0', ...vars } });

describe.each(backends.filter((b) => !(postgresSkipped && b.name === 'PostgreSQL')))('$name storage', (backend) => {
  let db: Awaited<ReturnType<Backend['fresh']>>;
  let s: Storage;
  const opened: Storage[] = [];
  const open = async () => {
    const st = db.open();
    opened.push(st);
    await st.migrate();
    return st;
  };
  beforeAll(async () => {
    db = await backend.fresh();
    s = await open();
  });
  afterAll(async () => {
    for (const st of opened) await st.close().catch(() => {});
  });

  it('migrate() twice is a no-op', async () => {
    await s.migrate();
    expect(await s.metaGetOrSet('schema_version', 'x')).toBe(String(SCHEMA_VERSION));
  });

  it('insertBatch stores a repeated event_id once (within a batch and across batches); events without one each count', async () => {
    expect(await s.insertBatch([ev('a', 0), ev('b', 0, { ci: 'true' }), ev('a', 0), ev(null, 0), ev(null, 0)])).toBe(4);
    expect(await s.insertBatch([ev('a', 0), ev('c', 1, { version: '2.0.0', ci: 'false' })])).toBe(1);
    expect(await s.insertBatch([])).toBe(0);
    expect(Object.fromEntries(await s.daily('acme', '2026-11-19', '2026-11-22'))).toEqual({ '2026-11-20': 4, '2026-11-21': 1 });
    expect(await s.breakdown('acme', 'version', '2026-11-20', '2026-11-21')).toEqual({ '1.0.0': 4, '2.0.0': 1 });
    expect(await s.breakdown('acme', 'version', '2026-11-21', '2026-11-21')).toEqual({ '2.0.0': 1 });
    expect(await s.breakdown('acme', 'ci', '2026-11-01', '2026-11-30')).toEqual({ true: 1, false: 1 });
    expect(await s.breakdown('acme', 'pm', '2026-11-01', '2026-11-30')).toEqual({});
  });

  it('hasPackage; packages are kept apart (scoped names too)', async () => {
    await s.insertBatch([ev('s1', 0, {}, '@scope/lib')]);
    expect(await s.hasPackage('acme')).toBe(true);
    expect(await s.hasPackage('@scope/lib')).toBe(true);
    expect(await s.hasPackage('nope')).toBe(false);
    expect(Object.fromEntries(await s.daily('@scope/lib', '2026-11-01', '2026-11-30'))).toEqual({ '2026-11-20': 1 });
    // null: every package's installs per day (npm's all-packages totals).
    expect(Object.fromEntries(await s.daily(null, '2026-11-01', '2026-11-30'))).toEqual({ '2026-11-20': 5, '2026-11-21': 1 });
  });

  it('events() pages by id, filters by package and time, and gives back exactly what was stored', async () => {
    const all = await s.events({ since: 0, afterId: 0, limit: 100 });
    expect(all.map((e) => e.eventId)).toEqual([null, null, 'a', 'b', 'c', 's1']);
    expect(all[3]).toMatchObject({ package: 'acme', eventId: 'b', receivedAt: T0, vars: { version: '1.0.0', ci: 'true' } });
    const page = await s.events({ since: 0, afterId: all[1]!.id, limit: 2 });
    expect(page.map((e) => e.id)).toEqual([all[2]!.id, all[3]!.id]);
    expect((await s.events({ since: T0 + DAY, afterId: 0, limit: 100 })).map((e) => e.eventId)).toEqual(['c']);
    expect((await s.events({ package: '@scope/lib', since: 0, afterId: 0, limit: 100 })).map((e) => e.eventId)).toEqual(['s1']);
  });

  it('cube(): per (day, field, value) from the rollups unfiltered, from the combination table with filters (=, != and a missing field); packages() lists them', async () => {
    const own = await backend.fresh();
    const st = own.open();
    opened.push(st);
    await st.migrate();
    expect(await st.packages()).toEqual([]);
    await st.insertBatch([
      ev('d1', 0, { ci: 'false', direct: 'true' }, 'dash'),
      ev('d2', 0, { ci: 'true', direct: 'false' }, 'dash'),
      ev('d3', 1, { ci: 'false', direct: 'unknown', version: '2.0.0' }, 'dash'),
      ev('d4', 1, { ci: 'false', direct: 'true', version: '2.0.0' }, 'dash'),
      ev('d5', 1, {}, 'dash'),
      ev('d6', 1, { ci: 'false' }, '@other/pkg'),
    ]);
    expect(await st.packages()).toEqual(['@other/pkg', 'dash']);
    const sortRows = (rows: Array<[string, string, string, number]>) => rows.map((r) => r.join('|')).sort();
    type R = Array<[string, string, string, number]>;
    const cube = async (start: string, end: string, filters: Filter[], series: string[] | null = ['direct']) => sortRows(await st.cube('dash', start, end, filters, series));
    const ci = (op: '=' | '!=', value: string): Filter => ({ field: 'ci', op, value });
    // Per-day totals; other fields summed over the range (day ''); the series fields per day.
    expect(await cube('2026-11-01', '2026-11-30', [])).toEqual(
      sortRows([
        ['2026-11-20', '', '', 2], ['2026-11-21', '', '', 3],
        ['', 'version', '1.0.0', 3], ['', 'version', '2.0.0', 2], ['', 'ci', 'false', 3], ['', 'ci', 'true', 1],
        ['2026-11-20', 'direct', 'true', 1], ['2026-11-20', 'direct', 'false', 1], ['2026-11-21', 'direct', 'unknown', 1], ['2026-11-21', 'direct', 'true', 1],
      ] as R),
    );
    expect(await cube('2026-11-01', '2026-11-30', [], [])).toContain('|direct|true|2');
    expect(await cube('2026-11-01', '2026-11-30', [], null)).toEqual(sortRows([['2026-11-20', '', '', 2], ['2026-11-21', '', '', 3]]));
    expect(await cube('2026-11-21', '2026-11-21', [])).toEqual(
      sortRows([['2026-11-21', '', '', 3], ['', 'version', '2.0.0', 2], ['', 'version', '1.0.0', 1], ['', 'ci', 'false', 2], ['2026-11-21', 'direct', 'unknown', 1], ['2026-11-21', 'direct', 'true', 1]] as R),
    );
    expect(await cube('2026-11-01', '2026-11-30', [ci('=', 'false')])).toEqual(
      sortRows([
        ['2026-11-20', '', '', 1], ['2026-11-21', '', '', 2], ['', 'version', '1.0.0', 1], ['', 'version', '2.0.0', 2], ['', 'ci', 'false', 3],
        ['2026-11-20', 'direct', 'true', 1], ['2026-11-21', 'direct', 'unknown', 1], ['2026-11-21', 'direct', 'true', 1],
      ] as R),
    );
    expect(await cube('2026-11-01', '2026-11-30', [ci('=', 'false')], null)).toEqual(sortRows([['2026-11-20', '', '', 1], ['2026-11-21', '', '', 2]]));
    // != counts the event that has no ci at all; two filters must both hold; the range bounds the days read.
    expect(await cube('2026-11-21', '2026-11-21', [ci('!=', 'false')])).toEqual(sortRows([['2026-11-21', '', '', 1], ['', 'version', '1.0.0', 1]]));
    expect(await cube('2026-11-01', '2026-11-30', [ci('=', 'false'), { field: 'direct', op: '!=', value: 'true' }])).toEqual(
      sortRows([['2026-11-21', '', '', 1], ['', 'version', '2.0.0', 1], ['', 'ci', 'false', 1], ['2026-11-21', 'direct', 'unknown', 1]] as R),
    );
    // A value that is SQL or a JSON path is only ever a value.
    expect(await cube('2026-11-01', '2026-11-30', [ci('=', "x' OR '1'='1")])).toEqual([]);
    await expect(st.cube('dash', '2026-11-01', '2026-11-30', [{ field: "ci') OR 1=1 --", op: '=', value: 'x' }], null)).rejects.toThrow(/not a field name/);
    await expect(st.cube('dash', '2026-11-01', '2026-11-30', [], ["direct') OR 1=1 --"])).rejects.toThrow(/not a field name/);
  });

  it('filtered cube() from the combination table equals the raw-event answer (new events only, any variable order); after a backfill migration and after the raw events are deleted too', async () => {
    const own = await backend.fresh();
    let st = own.open();
    opened.push(st);
    await st.migrate();
    // Deterministic, varied events over 4 days and 2 packages; some without a field; variables in varying order.
    const pick = <T,>(xs: readonly T[], i: number) => xs[i % xs.length]!;
    const all: NewEvent[] = Array.from({ length: 240 }, (_, i) => {
      const vars: Record<string, string> = { ci: pick(['true', 'false'], i), pm: pick(['npm', 'pnpm', 'yarn'], i), version: pick(['1.0.0', '1.2.0', '2.0.0-beta.1'], i >> 1) };
      if (i % 5) vars.direct = pick(['true', 'false', 'unknown'], i >> 2);
      const ordered = i % 2 ? vars : Object.fromEntries(Object.entries(vars).reverse());
      return { package: i % 7 ? 'combo' : 'other', eventId: i % 11 ? `k${i}` : null, receivedAt: T0 + (i % 4) * DAY + (i % 3) * 1000, vars: ordered };
    });
    // Replays (in the batch and across batches) must not count.
    expect(await st.insertBatch([...all.slice(0, 120), all[1]!, all[2]!])).toBe(120);
    const again = all.slice(100, 120).filter((e) => e.eventId === null); // events without an event_id each count
    expect(again.length).toBeGreaterThan(0);
    expect(await st.insertBatch(all.slice(100, 240))).toBe(120 + again.length);
    const stored = [...all, ...again];
    // The reference: the same counts computed here from every stored event.
    const reference = (pkg: string, start: string, end: string, filters: Filter[], series: string[] | null) => {
      const out = new Map<string, number>();
      const add = (k: string) => out.set(k, (out.get(k) ?? 0) + 1);
      for (const e of stored) {
        const day = new Date(e.receivedAt).toISOString().slice(0, 10);
        if (e.package !== pkg || day < start || day > end) continue;
        if (!filters.every((f) => (f.op === '=' ? e.vars[f.field] === f.value : (e.vars[f.field] ?? '') !== f.value))) continue;
        add(`${day}|||`);
        if (series) for (const [k, v] of Object.entries(e.vars)) add(`${series.includes(k) ? day : ''}|${k}|${v}`);
      }
      return [...out].map(([k, n]) => `${k.endsWith('|||') ? k.slice(0, -1) : k}|${n}`).sort();
    };
    const cases: Array<[string, string, string, Filter[], string[] | null]> = [
      ['combo', '2026-11-01', '2026-11-30', [{ field: 'ci', op: '=', value: 'true' }], ['direct']],
      ['combo', '2026-11-01', '2026-11-30', [{ field: 'ci', op: '!=', value: 'true' }], []],
      ['combo', '2026-11-21', '2026-11-22', [{ field: 'direct', op: '!=', value: 'true' }], ['direct', 'pm']],
      ['combo', '2026-11-01', '2026-11-30', [{ field: 'direct', op: '=', value: 'unknown' }, { field: 'pm', op: '!=', value: 'npm' }], ['direct']],
      ['combo', '2026-11-20', '2026-11-20', [{ field: 'version', op: '=', value: '2.0.0-beta.1' }], null],
      ['other', '2026-11-01', '2026-11-30', [{ field: 'pm', op: '=', value: 'yarn' }], ['direct']],
      ['combo', '2026-11-01', '2026-11-30', [{ field: 'nosuch', op: '=', value: 'x' }], ['direct']],
    ];
    const check = async () => {
      for (const [pkg, start, end, filters, series] of cases) {
        const got = (await st.cube(pkg, start, end, filters, series)).map((r) => r.join('|')).sort();
        expect(got, JSON.stringify([pkg, start, end, filters, series])).toEqual(reference(pkg, start, end, filters, series));
      }
    };
    expect(reference('combo', '2026-11-01', '2026-11-30', cases[0]![3], ['direct']).length).toBeGreaterThan(10);
    await check();
    // The migration that creates the table backfills it from the raw events: drop it (and what step 3 made), go back to version 1, migrate again.
    await st.close();
    await own.raw(`DROP TABLE combos; DROP TABLE slots; DROP INDEX daily_totals; UPDATE collector_meta SET value = '1' WHERE key = 'schema_version'`);
    st = own.open();
    opened.push(st);
    await st.migrate();
    await check();
    // Retention: the combination rows stay when the raw events go.
    expect(await st.deleteBefore(T0 + 10 * DAY)).toBe(stored.length);
    await check();
  });

  /** A fresh database opened with these limits. */
  const limited = async (limits?: Limits) => {
    const own = await backend.fresh();
    const st = own.open(limits);
    opened.push(st);
    await st.migrate();
    return st;
  };
  const rows = async (st: Storage, ...a: Parameters<Storage['cube']>) => (await st.cube(...a)).map((r) => r.join('|')).sort();

  it('bounds what senders make it track: past `values` distinct values of a field a day, new ones count as OTHER (totals and known values stay exact); past `combinations`, new sets count as {}', async () => {
    const st = await limited({ values: 3, combinations: 4 });
    const junk = (i: number, day = 0) => ev(`j${day}-${i}`, day, { version: `v${i}`, pm: 'npm' });
    expect(await st.insertBatch([4, 3, 2, 1, 0].map((i) => junk(i)))).toBe(5);
    expect(await st.insertBatch([5, 6, 7, 8, 9].map((i) => junk(i)))).toBe(5);
    // A value that has its row keeps counting there; a new one of the next day gets a slot of that day.
    await st.insertBatch([ev('again', 0, { version: 'v1', pm: 'npm' }), junk(9, 1)]);
    expect(await st.breakdown('acme', 'version', '2026-11-20', '2026-11-20')).toEqual({ v0: 1, v1: 2, v2: 1, [OTHER]: 7 });
    expect(await st.breakdown('acme', 'version', '2026-11-21', '2026-11-21')).toEqual({ v9: 1 });
    expect(await st.breakdown('acme', 'pm', '2026-11-20', '2026-11-21')).toEqual({ npm: 12 });
    expect(Object.fromEntries(await st.daily('acme', '2026-11-20', '2026-11-21'))).toEqual({ '2026-11-20': 11, '2026-11-21': 1 });
    // The combination table holds the folded values too: a filter on pm sees every install, OTHER included.
    expect(await rows(st, 'acme', '2026-11-20', '2026-11-20', [{ field: 'pm', op: '=', value: 'npm' }], [])).toEqual(
      ['2026-11-20|||11', '|pm|npm|11', '|version|v0|1', '|version|v1|2', '|version|v2|1', `|version|${OTHER}|7`].sort(),
    );
    // Six combinations of values within the bound, two events each: four get rows, the last two count as {}.
    const st2 = await limited({ values: 3, combinations: 4 });
    const six = ['a', 'b'].flatMap((version) => ['x', 'y', 'z'].flatMap((ci) => [0, 1].map((k) => ev(`${version}${ci}${k}`, 0, { version, ci }))));
    expect(await st2.insertBatch(six)).toBe(12);
    const total = async (filters: Filter[]) => (await st2.cube('acme', '2026-11-20', '2026-11-20', filters, null)).reduce((a, r) => a + r[3], 0);
    expect(await total([{ field: 'ci', op: '!=', value: 'nosuch' }])).toBe(12);
    expect((await Promise.all(['x', 'y', 'z'].map((v) => total([{ field: 'ci', op: '=', value: v }])))).reduce((a, b) => a + b, 0)).toBe(8);
    expect(await st2.breakdown('acme', 'ci', '2026-11-20', '2026-11-20')).toEqual({ x: 4, y: 4, z: 4 });
  });

  it('any variable is counted and filtered like install-beacon\'s; platform and arch count under Node\'s names (the raw event keeps what was sent); `fields` bounds the fields that come', async () => {
    const st = await limited();
    const D = '2026-11-20';
    await st.insertBatch([
      ev('p1', 0, { platform: 'Linux', arch: 'x86_64', python: '3.11.2', 'a.b': 'x' }, 'py'),
      ev('p2', 0, { platform: 'linux', arch: 'AMD64', python: '3.12.0' }, 'py'),
      ev('p3', 0, { platform: 'MINGW64_NT-10.0-19045', arch: 'x64', python: '3.12.0' }, 'py'),
    ]);
    expect(await st.breakdown('py', 'platform', D, D)).toEqual({ linux: 2, win32: 1 });
    expect(await st.breakdown('py', 'arch', D, D)).toEqual({ x64: 3 });
    expect(await st.breakdown('py', 'python', D, D)).toEqual({ '3.11.2': 1, '3.12.0': 2 });
    expect(await rows(st, 'py', D, D, [{ field: 'python', op: '=', value: '3.12.0' }, { field: 'platform', op: '=', value: 'win32' }], null)).toEqual([`${D}|||1`]);
    expect(await rows(st, 'py', D, D, [{ field: 'a.b', op: '=', value: 'x' }], null)).toEqual([`${D}|||1`]);
    expect(await rows(st, 'py', D, D, [{ field: 'python', op: '!=', value: '3.12.0' }], ['python'])).toContain(`${D}|python|3.11.2|1`);
    expect((await st.events({ package: 'py', since: 0, afterId: 0, limit: 10 })).map((e) => [e.vars.platform, e.vars.arch])).toEqual([['Linux', 'x86_64'], ['linux', 'AMD64'], ['MINGW64_NT-10.0-19045', 'x64']]);
    // Fields by installs, then by name: arch, platform, python and version have 3, a.b 1.
    const fieldsOf = async (n?: number) => [...new Set((await st.cube('py', D, D, [], [], undefined, n)).map((r) => r[1]).filter(Boolean))].sort();
    expect(await fieldsOf()).toEqual(['a.b', 'arch', 'platform', 'python', 'version']);
    expect(await fieldsOf(2)).toEqual(['arch', 'platform']);
  });

  it('schema 4 moves what schema 3 counted under other spellings of platform and arch to Node\'s names', async () => {
    const own = await backend.fresh();
    let st = own.open();
    opened.push(st);
    await st.migrate();
    await st.insertBatch([ev('m1', 0, { arch: 'x64', platform: 'linux' }), ev('m2', 0, { arch: 'x64', platform: 'linux' }), ev('m3', 0, { arch: 'arm64', platform: 'darwin' })]);
    await st.close();
    const key = backend.name === 'PostgreSQL' ? '{"arch": "AMD64", "version": "1.0.0", "platform": "Linux"}' : '{"arch":"AMD64","platform":"Linux","version":"1.0.0"}';
    await own.raw(`INSERT INTO daily (package, field, day, value, count) VALUES ('acme', 'platform', '2026-11-20', 'Linux', 5), ('acme', 'arch', '2026-11-20', 'AMD64', 5);
      UPDATE daily SET count = count + 5 WHERE package = 'acme' AND (field = '' OR (field = 'version' AND value = '1.0.0')) AND day = '2026-11-20';
      INSERT INTO combos (package, day, vars, count) VALUES ('acme', '2026-11-20', '${key}', 5);
      UPDATE collector_meta SET value = '3' WHERE key = 'schema_version'`);
    st = own.open();
    opened.push(st);
    await st.migrate();
    const D = '2026-11-20';
    expect(await st.breakdown('acme', 'platform', D, D)).toEqual({ linux: 7, darwin: 1 });
    expect(await st.breakdown('acme', 'arch', D, D)).toEqual({ x64: 7, arm64: 1 });
    expect(await rows(st, 'acme', D, D, [{ field: 'platform', op: '=', value: 'linux' }, { field: 'arch', op: '=', value: 'x64' }], null)).toEqual([`${D}|||7`]);
    expect(await rows(st, 'acme', D, D, [{ field: 'platform', op: '=', value: 'Linux' }], null)).toEqual([]);
    expect(await rows(st, 'acme', D, D, [], null)).toEqual([`${D}|||8`]);
  });

  it('cube(top): per field the `top` values with most installs as they are, the rest summed as OTHER (per day for a series field); filtered the same', async () => {
    const st = await limited();
    const batch: NewEvent[] = [];
    let k = 0;
    for (const [version, n] of [['w1', 5], ['w2', 4], ['w3', 3], ['w4', 2], ['w5', 1]] as const)
      for (let i = 0; i < n; i++) batch.push(ev(`t${k++}`, i % 2, { version, direct: version === 'w1' ? 'true' : i % 2 ? 'false' : 'unknown', pm: 'npm' }));
    await st.insertBatch(batch);
    const expected = ['2026-11-20|||9', '2026-11-21|||6', '|version|w1|5', '|version|w2|4', `|version|${OTHER}|6`, '|pm|npm|15',
      '2026-11-20|direct|unknown|6', '2026-11-20|direct|true|3', '2026-11-21|direct|true|2', `2026-11-21|direct|${OTHER}|4`].sort();
    expect(await rows(st, 'acme', '2026-11-01', '2026-11-30', [], ['direct'], 2)).toEqual(expected);
    expect(await rows(st, 'acme', '2026-11-01', '2026-11-30', [{ field: 'pm', op: '=', value: 'npm' }], ['direct'], 2)).toEqual(expected);
    // direct: unknown 6, true 5, false 4 -> with top 1 only "unknown" stays.
    const one = await rows(st, 'acme', '2026-11-01', '2026-11-30', [], ['direct'], 1);
    expect(one.filter((r) => r.includes('|direct|'))).toEqual(['2026-11-20|direct|unknown|6', `2026-11-20|direct|${OTHER}|3`, `2026-11-21|direct|${OTHER}|6`].sort());
    expect(one.filter((r) => r.includes('|version|'))).toEqual(['|version|w1|5', `|version|${OTHER}|10`].sort());
  });

  it('topPackages: by installs in the range, most first, then by name, at most `limit`', async () => {
    const st = await limited();
    await st.insertBatch([ev(null, 0, {}, 'b'), ev(null, 0, {}, 'b'), ev(null, 1, {}, 'a'), ev(null, 1, {}, 'c'), ev(null, 1, {}, 'c'), ev(null, 5, {}, 'a'), ev(null, 5, {}, 'a')]);
    expect(await st.topPackages('2026-11-20', '2026-11-21', 10)).toEqual([['b', 2], ['c', 2], ['a', 1]]);
    expect(await st.topPackages('2026-11-20', '2026-11-30', 2)).toEqual([['a', 3], ['b', 2]]);
  });

  it('prune: a package (or all but the kept ones) leaves no event or count; a value leaves no event, and its counts move to OTHER', async () => {
    const st = await limited();
    const junkPkg = '! SECURITY NOTICE: re-enter your token at https://evil.example';
    await st.insertBatch([
      ev('p1', 0, { ci: 'false' }), ev('p2', 0, { version: 'zzzz-junk', ci: 'false' }), ev('p3', 1, { version: 'zzzz-junk', ci: 'true' }),
      ev('p4', 0, {}, junkPkg), ev('p5', 0, {}, 'junk-2'), ev('p6', 0, {}, 'mine-too'),
    ]);
    expect(await st.prune({ package: 'acme', field: 'version', value: 'zzzz-junk' })).toEqual({ events: 2, rows: 4 });
    expect(await st.breakdown('acme', 'version', '2026-11-01', '2026-11-30')).toEqual({ '1.0.0': 1, [OTHER]: 2 });
    expect(Object.fromEntries(await st.daily('acme', '2026-11-01', '2026-11-30'))).toEqual({ '2026-11-20': 2, '2026-11-21': 1 });
    expect(await rows(st, 'acme', '2026-11-01', '2026-11-30', [{ field: 'version', op: '=', value: 'zzzz-junk' }], null)).toEqual([]);
    expect(await rows(st, 'acme', '2026-11-01', '2026-11-30', [{ field: 'ci', op: '=', value: 'false' }], [])).toEqual(['2026-11-20|||2', '|ci|false|2', '|version|1.0.0|1', `|version|${OTHER}|1`].sort());
    expect((await st.events({ package: 'acme', since: 0, afterId: 0, limit: 10 })).map((e) => e.eventId)).toEqual(['p1']);
    expect(await st.prune({ packages: [junkPkg] })).toMatchObject({ events: 1 });
    expect(await st.packages()).toEqual(['acme', 'junk-2', 'mine-too']);
    expect(await st.prune({ keep: ['acme', 'mine-too'] })).toMatchObject({ events: 1 });
    expect(await st.packages()).toEqual(['acme', 'mine-too']);
    expect(await st.hasPackage('junk-2')).toBe(false);
    expect(await st.events({ package: 'junk-2', since: 0, afterId: 0, limit: 10 })).toEqual([]);
    await expect(st.prune({ package: 'acme', field: "x') OR 1=1 --", value: 'v' })).rejects.toThrow(/not a field name/);
  });

  it('deleteCountsBefore drops the counts of earlier days only (rollups and combinations)', async () => {
    const st = await limited();
    await st.insertBatch([ev(null, 0, { ci: 'true' }), ev(null, 1, { ci: 'true' }), ev(null, 2, { ci: 'false' })]);
    expect(await st.deleteCountsBefore('2026-11-21')).toBeGreaterThan(0);
    expect(Object.fromEntries(await st.daily('acme', '2026-11-01', '2026-11-30'))).toEqual({ '2026-11-21': 1, '2026-11-22': 1 });
    expect(await rows(st, 'acme', '2026-11-01', '2026-11-30', [{ field: 'ci', op: '=', value: 'true' }], null)).toEqual(['2026-11-21|||1']);
    expect(await st.events({ since: 0, afterId: 0, limit: 10 })).toHaveLength(3);
  });

  it('deleteBefore drops raw events only: the daily counts stay; de-duplication holds for what is kept', async () => {
    expect(await s.deleteBefore(T0 + DAY / 2)).toBe(5);
    expect((await s.events({ since: 0, afterId: 0, limit: 100 })).map((e) => e.eventId)).toEqual(['c']);
    expect(Object.fromEntries(await s.daily('acme', '2026-11-19', '2026-11-22'))).toEqual({ '2026-11-20': 4, '2026-11-21': 1 });
    expect(await s.insertBatch([ev('c', 1)])).toBe(0);
  });

  it('deleteBefore with a limit deletes at most that many per call (retention sweeps in batches) until none are left; the counts stay', async () => {
    const st = await limited();
    await st.insertBatch(Array.from({ length: 7 }, (_, i) => ev(`lim-${i}`, 0)).concat([ev('lim-keep', 3)]));
    const calls: number[] = [];
    for (let n = -1; n !== 0; ) calls.push((n = await st.deleteBefore(T0 + DAY, 3)));
    expect(calls).toEqual([3, 3, 1, 0]);
    expect((await st.events({ since: 0, afterId: 0, limit: 10 })).map((e) => e.eventId)).toEqual(['lim-keep']);
    expect(Object.fromEntries(await st.daily('acme', '2026-11-01', '2026-11-30'))).toEqual({ '2026-11-20': 7, '2026-11-23': 1 });
  });

  it('metaSet overwrites; ping writes a heartbeat (a write, not a read)', async () => {
    await s.metaSet('retention_clock', '1');
    await s.metaSet('retention_clock', '2');
    expect(await s.metaGetOrSet('retention_clock', 'x')).toBe('2');
    await s.ping();
    expect(Number(await s.metaGetOrSet('heartbeat', 'none'))).toBeGreaterThan(T0);
  });

  it('metaGetOrSet: the first value wins', async () => {
    expect(await s.metaGetOrSet('read_token', 'first')).toBe('first');
    expect(await s.metaGetOrSet('read_token', 'second')).toBe('first');
  });

  it('two instances on one database, writing the same event_ids at once, store each once and answer the same counts', async () => {
    const fresh = await backend.fresh();
    const a = fresh.open();
    const b = fresh.open();
    opened.push(a, b);
    await Promise.all([a.migrate(), b.migrate()]);
    const ids = Array.from({ length: 200 }, (_, i) => ev(`dup-${i}`, 2, { platform: i % 2 ? 'linux' : 'darwin' }));
    const batches = (xs: NewEvent[]) => Array.from({ length: 10 }, (_, i) => xs.slice(i * 20, i * 20 + 20));
    const results = await Promise.all([...batches(ids).map((x) => a.insertBatch(x)), ...batches([...ids].reverse()).map((x) => b.insertBatch(x))]);
    expect(results.reduce((x, y) => x + y, 0)).toBe(200);
    for (const st of [a, b]) {
      expect(Object.fromEntries(await st.daily('acme', '2026-11-22', '2026-11-22'))).toEqual({ '2026-11-22': 200 });
      expect(await st.breakdown('acme', 'platform', '2026-11-22', '2026-11-22')).toEqual({ linux: 100, darwin: 100 });
    }
  });

  it('a database with a newer schema than this collector knows is refused with a clear message', async () => {
    const fresh = await backend.fresh();
    const first = fresh.open();
    opened.push(first);
    await first.migrate();
    await fresh.raw(`UPDATE collector_meta SET value = '${SCHEMA_VERSION + 1}' WHERE key = 'schema_version'`);
    const second = fresh.open();
    opened.push(second);
    await expect(second.migrate()).rejects.toThrow(`the database has schema version ${SCHEMA_VERSION + 1}, newer than this collector knows (${SCHEMA_VERSION}); upgrade install-beacon-collector`);
  });
});

// Issue 20 item 3: after `rm` of the .db, -wal and -shm, SQLite goes on committing into the unlinked
// files, and all of it is gone at restart: such a commit must fail (503), never be acknowledged.
describe.each([
  ['SQLite', (file: string) => openSqlite(file)],
  ['SQLite in a worker thread', (file: string) => openSqliteInWorker(file, BIN)],
])('%s: the database file no longer the one opened', (_name, openIt) => {
  const cases: Array<[string, (file: string) => void]> = [
    ['the .db, -wal and -shm deleted', (f) => ['', '-wal', '-shm'].forEach((x) => rmSync(f + x, { force: true }))],
    ['the -wal alone deleted', (f) => rmSync(`${f}-wal`)],
    ['the .db replaced by a copy', (f) => (copyFileSync(f, `${f}.copy`), renameSync(`${f}.copy`, f))],
  ];
  it.each(cases)('%s: the commit after it fails, and so do the next and ping', async (_what, fault) => {
    const file = join(dir, `gone-${++n}.db`);
    const st = openIt(file);
    try {
      await st.migrate();
      expect(await st.insertBatch([ev('before', 0)])).toBe(1);
      fault(file);
      await expect(st.insertBatch([ev('after', 0)])).rejects.toThrow(/no longer the one opened/);
      await expect(st.insertBatch([ev('later', 0)])).rejects.toThrow(/no longer the one opened/);
      await expect(st.ping()).rejects.toThrow(/no longer the one opened/);
    } finally {
      await st.close();
    }
  });
});
