// PostgreSQL (pg): for several collector instances behind one address. One
// transaction per batch; event_id de-duplication by a unique index with
// ON CONFLICT DO NOTHING, so two instances store a replayed event once.
import pg from 'pg';
import { FIELD_NAME, NewerSchemaError, SCHEMA_VERSION, TOTAL, uniqueInBatch, type Storage, type StoredEvent } from './types.js';

// Index = version - 1. Never edit a shipped step; add one.
const MIGRATIONS: string[] = [
  `CREATE TABLE events (
     id BIGSERIAL PRIMARY KEY,
     event_id TEXT UNIQUE,
     package TEXT NOT NULL,
     received_at BIGINT NOT NULL,
     vars TEXT NOT NULL
   );
   CREATE INDEX events_received_at ON events (received_at);
   CREATE TABLE daily (
     package TEXT NOT NULL,
     field TEXT NOT NULL,
     day TEXT NOT NULL,
     value TEXT NOT NULL,
     count BIGINT NOT NULL,
     PRIMARY KEY (package, field, day, value)
   );`,
  // The daily combination table (see Storage.cube), backfilled from the raw events still stored.
  // vars is the jsonb text form: one spelling per set of values, whatever order they came in.
  `CREATE TABLE combos (
     package TEXT NOT NULL,
     day TEXT NOT NULL,
     vars TEXT NOT NULL,
     count BIGINT NOT NULL,
     PRIMARY KEY (package, day, vars)
   );
   INSERT INTO combos (package, day, vars, count)
     SELECT package, to_char(to_timestamp(received_at / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD'), vars::jsonb::text, count(*)
     FROM events GROUP BY 1, 2, 3;`,
];

// Serialises migrations of instances starting at once.
const MIGRATION_LOCK = 7708_2026;

interface EventRow { id: string; event_id: string | null; package: string; received_at: string; vars: string }

/** The URL without its password, for the start-up lines. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(unparsable URL)';
  }
}

export function openPostgres(url: string): Storage {
  const pool = new pg.Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 2000, idleTimeoutMillis: 10_000 });
  // A connection dropped while idle (the server restarted) must not crash the process; the pool replaces it.
  pool.on('error', () => {});

  async function tx<T>(work: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await pool.connect();
    // A connection lost mid-transaction (the server stopped) fails the query; its 'error' event must not crash the process.
    const ignore = () => {};
    c.on('error', ignore);
    let broken = false;
    try {
      await c.query('BEGIN');
      const out = await work(c);
      await c.query('COMMIT');
      return out;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => {
        broken = true;
      });
      throw e;
    } finally {
      c.off('error', ignore);
      c.release(broken);
    }
  }

  const toEvent = (r: EventRow): StoredEvent => ({ id: Number(r.id), eventId: r.event_id, package: r.package, receivedAt: Number(r.received_at), vars: JSON.parse(r.vars) as Record<string, string> });

  return {
    kind: 'postgres',
    where: `PostgreSQL ${redactUrl(url)}`,
    async migrate() {
      await tx(async (c) => {
        await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
        await c.query('CREATE TABLE IF NOT EXISTS collector_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
        const r = await c.query<{ value: string }>("SELECT value FROM collector_meta WHERE key = 'schema_version'");
        const current = r.rows[0] ? Number(r.rows[0].value) : 0;
        if (current > SCHEMA_VERSION) throw new NewerSchemaError(current);
        for (let v = current + 1; v <= SCHEMA_VERSION; v++) await c.query(MIGRATIONS[v - 1]!);
        await c.query("INSERT INTO collector_meta (key, value) VALUES ('schema_version', $1) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", [String(SCHEMA_VERSION)]);
      });
    },
    async insertBatch(input) {
      const events = uniqueInBatch(input);
      if (events.length === 0) return 0;
      // One statement, one round trip, its own transaction: the events that are new
      // (ON CONFLICT DO NOTHING leaves out a known event_id) and their rollups, in key
      // order so that concurrent writers take row locks in one order.
      const r = await pool.query<{ fresh: string }>(
        `WITH ins AS (
           INSERT INTO events (event_id, package, received_at, vars)
           SELECT e, p, r, v FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[]) AS t(e, p, r, v)
           ON CONFLICT (event_id) DO NOTHING
           RETURNING package, vars, to_char(to_timestamp(received_at / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day
         ), keys AS (
           SELECT package, day, $5::text AS field, $5::text AS value FROM ins
           UNION ALL
           SELECT ins.package, ins.day, kv.key, kv.value FROM ins, jsonb_each_text(ins.vars::jsonb) AS kv
         ), up AS (
           INSERT INTO daily (package, day, field, value, count)
           SELECT package, day, field, value, count(*) FROM keys GROUP BY package, day, field, value ORDER BY package, field, day, value
           ON CONFLICT (package, field, day, value) DO UPDATE SET count = daily.count + EXCLUDED.count
         ), combo AS (
           INSERT INTO combos (package, day, vars, count)
           SELECT package, day, vars::jsonb::text, count(*) FROM ins GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
           ON CONFLICT (package, day, vars) DO UPDATE SET count = combos.count + EXCLUDED.count
         )
         SELECT count(*) AS fresh FROM ins`,
        [events.map((e) => e.eventId), events.map((e) => e.package), events.map((e) => e.receivedAt), events.map((e) => JSON.stringify(e.vars)), TOTAL],
      );
      return Number(r.rows[0]!.fresh);
    },
    async daily(pkg, start, end) {
      const r = await pool.query<{ day: string; count: string }>('SELECT day, count FROM daily WHERE package = $1 AND field = $2 AND value = $2 AND day BETWEEN $3 AND $4', [pkg, TOTAL, start, end]);
      return new Map(r.rows.map((row) => [row.day, Number(row.count)]));
    },
    async breakdown(pkg, field, start, end) {
      const r = await pool.query<{ value: string; count: string }>('SELECT value, SUM(count) AS count FROM daily WHERE package = $1 AND field = $2 AND day BETWEEN $3 AND $4 GROUP BY value', [pkg, field, start, end]);
      return Object.fromEntries(r.rows.map((row) => [row.value, Number(row.count)]));
    },
    async packages() {
      const r = await pool.query<{ package: string }>('SELECT DISTINCT package FROM daily WHERE field = $1 ORDER BY package', [TOTAL]);
      return r.rows.map((row) => row.package);
    },
    async cube(pkg, start, end, filters, series) {
      // See Storage.cube: one statement, every field in one pass over the rollups or the combination table.
      for (const f of [...filters.map((x) => x.field), ...(series ?? [])]) if (!FIELD_NAME.test(f)) throw new Error(`not a field name: ${f}`);
      const args: unknown[] = [pkg, start, end, series ?? []];
      let sql: string;
      if (filters.length === 0) {
        sql = `SELECT day, field, value, count FROM daily WHERE package = $1 AND field = '' AND value = '' AND day BETWEEN $2 AND $3`;
        if (series) sql += ` UNION ALL SELECT CASE WHEN field = ANY($4::text[]) THEN day ELSE '' END, field, value, SUM(count) FROM daily WHERE package = $1 AND field > '' AND day BETWEEN $2 AND $3 GROUP BY 1, 2, 3`;
        else sql += ' AND cardinality($4::text[]) >= 0';
      } else {
        const where = ['c.package = $1', 'c.day BETWEEN $2 AND $3'];
        for (const f of filters) {
          args.push(f.field, f.value);
          const [k, v] = [`$${args.length - 1}`, `$${args.length}`];
          where.push(f.op === '=' ? `(c.vars::jsonb ->> ${k}::text) = ${v}::text` : `COALESCE(c.vars::jsonb ->> ${k}::text, '') <> ${v}::text`);
        }
        sql = `SELECT c.day AS day, '' AS field, '' AS value, SUM(c.count) AS count FROM combos c WHERE ${where.join(' AND ')} AND cardinality($4::text[]) >= 0 GROUP BY 1`;
        if (series) sql += ` UNION ALL SELECT CASE WHEN kv.key = ANY($4::text[]) THEN c.day ELSE '' END, kv.key, kv.value, SUM(c.count) FROM combos c, jsonb_each_text(c.vars::jsonb) AS kv WHERE ${where.join(' AND ')} GROUP BY 1, 2, 3`;
      }
      const r = await pool.query<{ day: string; field: string; value: string; count: string }>(sql, args);
      return r.rows.map((row) => [row.day, row.field, row.value, Number(row.count)]);
    },
    async hasPackage(pkg) {
      const r = await pool.query('SELECT 1 FROM daily WHERE package = $1 AND field = $2 LIMIT 1', [pkg, TOTAL]);
      return r.rowCount !== null && r.rowCount > 0;
    },
    async events({ package: pkg, since, afterId, limit }) {
      const r =
        pkg === undefined
          ? await pool.query<EventRow>('SELECT * FROM events WHERE id > $1 AND received_at >= $2 ORDER BY id LIMIT $3', [afterId, since, limit])
          : await pool.query<EventRow>('SELECT * FROM events WHERE id > $1 AND received_at >= $2 AND package = $3 ORDER BY id LIMIT $4', [afterId, since, pkg, limit]);
      return r.rows.map(toEvent);
    },
    async deleteBefore(cutoff) {
      const r = await pool.query('DELETE FROM events WHERE received_at < $1', [cutoff]);
      return r.rowCount ?? 0;
    },
    async metaGetOrSet(key, value) {
      await pool.query('INSERT INTO collector_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING', [key, value]);
      const r = await pool.query<{ value: string }>('SELECT value FROM collector_meta WHERE key = $1', [key]);
      return r.rows[0]!.value;
    },
    async ping() {
      await pool.query('SELECT 1');
    },
    async close() {
      await pool.end();
    },
  };
}
