// SQLite (better-sqlite3): one file in WAL mode, synchronous=FULL so a
// committed batch survives a crash of the process and of the machine.
// Prepared statements, one transaction per batch (better-sqlite3's own advice).
import Database from 'better-sqlite3';
import { combos, FIELD_NAME, NewerSchemaError, rollup, SCHEMA_VERSION, TOTAL, uniqueInBatch, type CubeRow, type Filter, type NewEvent, type Storage, type StoredEvent } from './types.js';

// Index = version - 1. Never edit a shipped step; add one.
const MIGRATIONS: string[] = [
  `CREATE TABLE events (
     id INTEGER PRIMARY KEY,
     event_id TEXT UNIQUE,
     package TEXT NOT NULL,
     received_at INTEGER NOT NULL,
     vars TEXT NOT NULL
   );
   CREATE INDEX events_received_at ON events (received_at);
   CREATE TABLE daily (
     package TEXT NOT NULL,
     field TEXT NOT NULL,
     day TEXT NOT NULL,
     value TEXT NOT NULL,
     count INTEGER NOT NULL,
     PRIMARY KEY (package, field, day, value)
   ) WITHOUT ROWID;`,
  // The daily combination table (see Storage.cube), backfilled from the raw events still stored.
  `CREATE TABLE combos (
     package TEXT NOT NULL,
     day TEXT NOT NULL,
     vars TEXT NOT NULL,
     count INTEGER NOT NULL,
     PRIMARY KEY (package, day, vars)
   ) WITHOUT ROWID;
   INSERT INTO combos (package, day, vars, count)
     SELECT package, strftime('%Y-%m-%d', received_at / 1000, 'unixepoch'),
            (SELECT json_group_object(key, value) FROM (SELECT j.key, j.value FROM json_each(e.vars) j ORDER BY j.key)), count(*)
     FROM events e GROUP BY 1, 2, 3;`,
];

interface EventRow { id: number; event_id: string | null; package: string; received_at: number; vars: string }

export function openSqlite(file: string): Storage {
  const db = new Database(file, { timeout: 5000 });
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE IF NOT EXISTS collector_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');

  let stmts: ReturnType<typeof prepare> | undefined;
  const prepare = () => ({
    insertEvent: db.prepare('INSERT INTO events (event_id, package, received_at, vars) VALUES (?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING'),
    bump: db.prepare('INSERT INTO daily (package, day, field, value, count) VALUES (?, ?, ?, ?, ?) ON CONFLICT (package, field, day, value) DO UPDATE SET count = count + excluded.count'),
    combo: db.prepare('INSERT INTO combos (package, day, vars, count) VALUES (?, ?, ?, ?) ON CONFLICT (package, day, vars) DO UPDATE SET count = count + excluded.count'),
    daily: db.prepare<[string, string, string, string, string], { day: string; count: number }>('SELECT day, count FROM daily WHERE package = ? AND field = ? AND value = ? AND day BETWEEN ? AND ?'),
    breakdown: db.prepare<[string, string, string, string], { value: string; count: number }>('SELECT value, SUM(count) AS count FROM daily WHERE package = ? AND field = ? AND day BETWEEN ? AND ? GROUP BY value'),
    packages: db.prepare<[string], { package: string }>('SELECT DISTINCT package FROM daily WHERE field = ? ORDER BY package'),
    has: db.prepare<[string, string], { one: number }>('SELECT 1 AS one FROM daily WHERE package = ? AND field = ? LIMIT 1'),
    eventsAll: db.prepare<[number, number, number], EventRow>('SELECT * FROM events WHERE id > ? AND received_at >= ? ORDER BY id LIMIT ?'),
    eventsOf: db.prepare<[number, number, string, number], EventRow>('SELECT * FROM events WHERE id > ? AND received_at >= ? AND package = ? ORDER BY id LIMIT ?'),
  });
  const s = () => (stmts ??= prepare());

  const insertTx = db.transaction((events: NewEvent[]) => {
    const fresh: NewEvent[] = [];
    for (const e of events) {
      if (s().insertEvent.run(e.eventId, e.package, e.receivedAt, JSON.stringify(e.vars)).changes === 1) fresh.push(e);
    }
    for (const row of rollup(fresh)) s().bump.run(...row);
    for (const row of combos(fresh)) s().combo.run(...row);
    return fresh.length;
  });

  const toEvent = (r: EventRow): StoredEvent => ({ id: r.id, eventId: r.event_id, package: r.package, receivedAt: r.received_at, vars: JSON.parse(r.vars) as Record<string, string> });

  /** The dashboard's counts (see Storage.cube): one statement, every field in one pass over the rollups or the combination table. */
  function cube(pkg: string, start: string, end: string, filters: readonly Filter[], series: readonly string[] | null): CubeRow[] {
    for (const f of [...filters.map((x) => x.field), ...(series ?? [])]) if (!FIELD_NAME.test(f)) throw new Error(`not a field name: ${f}`);
    const inSeries = series && series.length > 0 ? `IN (${series.map((f) => `'${f}'`).join(', ')})` : 'IN (NULL)';
    let sql: string;
    let args: unknown[];
    if (filters.length === 0) {
      args = [pkg, start, end];
      sql = `SELECT day, field, value, count FROM daily WHERE package = ? AND field = '' AND value = '' AND day BETWEEN ? AND ?`;
      if (series) {
        sql += ` UNION ALL SELECT CASE WHEN field ${inSeries} THEN day ELSE '' END, field, value, SUM(count) FROM daily WHERE package = ? AND field > '' AND day BETWEEN ? AND ? GROUP BY 1, 2, 3`;
        args.push(pkg, start, end);
      }
    } else {
      const where: string[] = ['c.package = ?', 'c.day BETWEEN ? AND ?'];
      const cond: unknown[] = [pkg, start, end];
      for (const f of filters) {
        where.push(f.op === '=' ? 'json_extract(c.vars, ?) = ?' : "IFNULL(json_extract(c.vars, ?), '') != ?");
        cond.push(`$.${f.field}`, f.value);
      }
      sql = `SELECT c.day AS day, '' AS field, '' AS value, SUM(c.count) AS count FROM combos c WHERE ${where.join(' AND ')} GROUP BY 1`;
      args = [...cond];
      if (series) {
        sql += ` UNION ALL SELECT CASE WHEN j.key ${inSeries} THEN c.day ELSE '' END, j.key, CAST(j.value AS TEXT), SUM(c.count) FROM combos c, json_each(c.vars) j WHERE ${where.join(' AND ')} GROUP BY 1, 2, 3`;
        args.push(...cond);
      }
    }
    const rows = db.prepare(sql).raw().all(...args) as Array<[string, string, string, number]>;
    return rows;
  }

  return {
    kind: 'sqlite',
    where: `SQLite ${file} (WAL)`,
    async migrate() {
      db.transaction(() => {
        const row = db.prepare<[], { value: string }>("SELECT value FROM collector_meta WHERE key = 'schema_version'").get();
        const current = row ? Number(row.value) : 0;
        if (current > SCHEMA_VERSION) throw new NewerSchemaError(current);
        for (let v = current + 1; v <= SCHEMA_VERSION; v++) db.exec(MIGRATIONS[v - 1]!);
        db.prepare("INSERT INTO collector_meta (key, value) VALUES ('schema_version', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value").run(String(SCHEMA_VERSION));
      }).immediate();
    },
    async insertBatch(events) {
      return insertTx.immediate(uniqueInBatch(events));
    },
    async daily(pkg, start, end) {
      return new Map(s().daily.all(pkg, TOTAL, TOTAL, start, end).map((r) => [r.day, r.count]));
    },
    async breakdown(pkg, field, start, end) {
      return Object.fromEntries(s().breakdown.all(pkg, field, start, end).map((r) => [r.value, r.count]));
    },
    async packages() {
      return s().packages.all(TOTAL).map((r) => r.package);
    },
    async cube(pkg, start, end, filters, series) {
      return cube(pkg, start, end, filters, series);
    },
    async hasPackage(pkg) {
      return s().has.get(pkg, TOTAL) !== undefined;
    },
    async events({ package: pkg, since, afterId, limit }) {
      const rows = pkg === undefined ? s().eventsAll.all(afterId, since, limit) : s().eventsOf.all(afterId, since, pkg, limit);
      return rows.map(toEvent);
    },
    async deleteBefore(cutoff) {
      return db.prepare('DELETE FROM events WHERE received_at < ?').run(cutoff).changes;
    },
    async metaGetOrSet(key, value) {
      db.prepare('INSERT INTO collector_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING').run(key, value);
      return db.prepare<[string], { value: string }>('SELECT value FROM collector_meta WHERE key = ?').get(key)!.value;
    },
    async ping() {
      db.prepare('SELECT 1').get();
    },
    async close() {
      db.close();
    },
  };
}
