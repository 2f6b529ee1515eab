// PostgreSQL (pg): for several collector instances behind one address. One
// transaction per batch; event_id de-duplication by a unique index with
// ON CONFLICT DO NOTHING, so two instances store a replayed event once.
import pg from 'pg';
import { archSql, countedVars, platformSql } from './platforms.js';
import { clock, stage, tracing } from '../trace.js';
import { DEFAULT_LIMITS, FIELD_NAME, NewerSchemaError, OTHER, SCHEMA_VERSION, TOTAL, uniqueInBatch, type CubeRow, type Limits, type Storage, type StoredEvent } from './types.js';

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
  // Value slots (see Limits and insertBatch), backfilled from what is stored; the partial index serves
  // the picker's packages-by-installs query.
  `CREATE TABLE slots (
     package TEXT NOT NULL,
     field TEXT NOT NULL,
     day TEXT NOT NULL,
     n BIGINT NOT NULL,
     PRIMARY KEY (package, field, day)
   );
   INSERT INTO slots (package, field, day, n) SELECT package, field, day, count(*) FROM daily WHERE field > '' GROUP BY 1, 2, 3;
   INSERT INTO slots (package, field, day, n) SELECT package, '', day, count(*) FROM combos GROUP BY 1, 3;
   CREATE INDEX daily_totals ON daily (day, package) WHERE field = '';`,
  // Platform and arch are counted under Node's names however they were spelled (platforms.ts):
  // what was counted before moves to those names, and the value slots are recounted.
  ['platform', 'arch'].map((f) => {
    const canon = (f === 'platform' ? platformSql : archSql)('value');
    const inJson = (f === 'platform' ? platformSql : archSql)(`(vars::jsonb ->> '${f}')`);
    const moved = `jsonb_set(vars::jsonb, '{${f}}', to_jsonb(${inJson}))::text`;
    return `INSERT INTO daily (package, day, field, value, count) SELECT package, day, field, ${canon}, SUM(count) FROM daily WHERE field = '${f}' AND value <> ${canon} GROUP BY 1, 2, 3, 4
       ON CONFLICT (package, field, day, value) DO UPDATE SET count = daily.count + EXCLUDED.count;
     DELETE FROM daily WHERE field = '${f}' AND value <> ${canon};
     INSERT INTO combos (package, day, vars, count) SELECT package, day, ${moved}, SUM(count) FROM combos WHERE (vars::jsonb ->> '${f}') <> ${inJson} GROUP BY 1, 2, 3
       ON CONFLICT (package, day, vars) DO UPDATE SET count = combos.count + EXCLUDED.count;
     DELETE FROM combos WHERE (vars::jsonb ->> '${f}') <> ${inJson};
     UPDATE slots SET n = (SELECT count(*) FROM daily d WHERE d.package = slots.package AND d.field = slots.field AND d.day = slots.day AND d.value <> E'\\u0001other') WHERE field = '${f}';`;
  }).join('\n') + `
   UPDATE slots SET n = (SELECT count(*) FROM combos c WHERE c.package = slots.package AND c.day = slots.day AND c.vars <> '{}') WHERE field = '';`,
];

// One statement, one round trip, its own transaction: the events that are new
// (ON CONFLICT DO NOTHING leaves out a known event_id) and their rollups, in key
// order so that concurrent writers take row locks in one order.
// Bounds (see Limits): a value that is new to its package, field and day takes a slot; `slots.n`
// counts every value that ever asked for one (it grows past the bound, so that concurrent writers,
// which each see the others' increments through the upsert's row lock, never give out more than
// the bound: the r-th new value of a batch gets a slot when n - m + r <= bound). Values without a
// slot count as OTHER, in the rollups and in the combinations; combinations without one count in {}.
//
// A named prepared statement (INSERT_BATCH.name): each pooled connection sends the text, and the server
// parses and analyses it, once; then each batch is one Bind/Execute of the parameters. After five executions
// the server may keep one generic plan for it instead of planning each batch (plan_cache_mode=auto; it did
// for batches of 20 and of 1000 events): it differs from the custom plans in join and aggregate methods
// (hash instead of sort and merge), with no per-row loop over a CTE in either.
// Its parameters: $1-$4 the events (event_id, package, received_at, vars as JSON), $5 TOTAL, $6 OTHER,
// $7 and $8 the bounds (Limits), $9 the vars as they are counted (countedVars), as JSON, one per event.
export const INSERT_BATCH = {
  name: 'install-beacon-insert-batch-2',
  text: `WITH ins AS (
   INSERT INTO events (event_id, package, received_at, vars)
   SELECT e, p, r, v FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[]) AS t(e, p, r, v)
   ON CONFLICT (event_id) DO NOTHING
   RETURNING package, vars, to_char(to_timestamp(received_at / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day
 ), g AS (
   -- From here on, one row per package, day and set of variables (n events), not per event.
   SELECT package, day, vars, count(*) AS n FROM ins GROUP BY 1, 2, 3
 ), kv AS (
   -- Counted as $9 has it (platform and arch under one name, platforms.ts); the raw event keeps $4.
   SELECT g.package, g.day, g.vars, g.n, x.key AS field, x.value
   FROM g JOIN (SELECT DISTINCT r, c FROM unnest($4::text[], $9::text[]) AS m(r, c)) m ON m.r = g.vars, jsonb_each_text(m.c::jsonb) AS x
 ), fresh AS (
   SELECT k.package, k.day, k.field, k.value,
          row_number() OVER (PARTITION BY k.package, k.field, k.day ORDER BY k.value) AS r,
          count(*) OVER (PARTITION BY k.package, k.field, k.day) AS m
   FROM (SELECT DISTINCT package, day, field, value FROM kv) k
   WHERE NOT EXISTS (SELECT 1 FROM daily d WHERE d.package = k.package AND d.field = k.field AND d.day = k.day AND d.value = k.value)
 ), claimed AS (
   INSERT INTO slots (package, field, day, n)
   SELECT package, field, day, max(m) FROM fresh GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
   ON CONFLICT (package, field, day) DO UPDATE SET n = slots.n + EXCLUDED.n
   RETURNING package, field, day, n
 ), folded AS (
   SELECT f.package, f.day, f.field, f.value FROM fresh f JOIN claimed c USING (package, field, day) WHERE c.n - f.m + f.r > $7::bigint
 ), kept AS (
   SELECT kv.package, kv.day, kv.vars, kv.n, kv.field, CASE WHEN fo.value IS NULL THEN kv.value ELSE $6::text END AS value
   FROM kv LEFT JOIN folded fo USING (package, day, field, value)
 ), up AS (
   INSERT INTO daily (package, day, field, value, count)
   SELECT package, day, field, value, sum(n) FROM (
     SELECT package, day, $5::text AS field, $5::text AS value, n FROM g
     UNION ALL SELECT package, day, field, value, n FROM kept
   ) t GROUP BY package, day, field, value ORDER BY package, field, day, value
   ON CONFLICT (package, field, day, value) DO UPDATE SET count = daily.count + EXCLUDED.count
 ), cg AS (
   -- Each set of variables as its combination: its values as kept (a value without a slot is OTHER).
   SELECT package, day, vars, sum(n) AS n FROM (
     SELECT g.package, g.day, COALESCE(jsonb_object_agg(k.field, k.value) FILTER (WHERE k.field IS NOT NULL), '{}'::jsonb)::text AS vars, g.n
     FROM g LEFT JOIN kept k ON k.package = g.package AND k.day = g.day AND k.vars = g.vars GROUP BY g.package, g.day, g.vars, g.n
   ) cv GROUP BY 1, 2, 3
 ), cfresh AS (
   SELECT g.package, g.day, g.vars, row_number() OVER (PARTITION BY g.package, g.day ORDER BY g.vars) AS r, count(*) OVER (PARTITION BY g.package, g.day) AS m
   FROM cg g WHERE NOT EXISTS (SELECT 1 FROM combos x WHERE x.package = g.package AND x.day = g.day AND x.vars = g.vars)
 ), cclaimed AS (
   INSERT INTO slots (package, field, day, n)
   SELECT package, $5::text, day, max(m) FROM cfresh GROUP BY 1, 3 ORDER BY 1, 3
   ON CONFLICT (package, field, day) DO UPDATE SET n = slots.n + EXCLUDED.n
   RETURNING package, day, n
 ), combo AS (
   INSERT INTO combos (package, day, vars, count)
   SELECT g.package, g.day, CASE WHEN c.n - f.m + f.r > $8::bigint THEN '{}' ELSE g.vars END, sum(g.n)
   FROM cg g LEFT JOIN cfresh f USING (package, day, vars) LEFT JOIN cclaimed c USING (package, day)
   GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
   ON CONFLICT (package, day, vars) DO UPDATE SET count = combos.count + EXCLUDED.count
 )
 SELECT count(*) AS fresh FROM ins`,
} as const;

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

export function openPostgres(url: string, limits: Limits = DEFAULT_LIMITS): Storage {
  // jit=off for the collector's own sessions: PostgreSQL's JIT compiler (on by default) costs a batch of a few
  // hundred events seconds instead of milliseconds (BENCHMARKS.md, "POST bodies"). Options in the URL
  // (`?options=...`) replace this one.
  const pool = new pg.Pool({ connectionString: url, options: '-c jit=off', max: 4, connectionTimeoutMillis: 2000, idleTimeoutMillis: 10_000 });
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
    // Up to 3 commits from the pool (its fourth connection serves reads), a second only once the batcher's
    // spareAt (200) events wait: under a light load the requests that arrive during a commit go together in the
    // next. Bench, 32 connections: 0.33-0.34x of the bare server against 0.21-0.24x with a commit for whatever
    // waits (mean batch 15.9 against 6.6, PostgreSQL server CPU 38-48 us a request against 102-109).
    concurrency: 3,
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
      const t = tracing() ? clock() : 0;
      const r = await pool.query<{ fresh: string }>({
        ...INSERT_BATCH,
        values: [events.map((e) => e.eventId), events.map((e) => e.package), events.map((e) => e.receivedAt), events.map((e) => JSON.stringify(e.vars)), TOTAL, OTHER, limits.values, limits.combinations, events.map((e) => JSON.stringify(countedVars(e.vars)))],
      });
      if (t) stage('one statement: INSERTs, upserts, COMMIT (round trip)', clock() - t, events.length);
      return Number(r.rows[0]!.fresh);
    },
    async daily(pkg, start, end) {
      const r =
        pkg === null
          ? await pool.query<{ day: string; count: string }>('SELECT day, SUM(count) AS count FROM daily WHERE field = $1 AND value = $1 AND day BETWEEN $2 AND $3 GROUP BY day', [TOTAL, start, end])
          : await pool.query<{ day: string; count: string }>('SELECT day, count FROM daily WHERE package = $1 AND field = $2 AND value = $2 AND day BETWEEN $3 AND $4', [pkg, TOTAL, start, end]);
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
    async topPackages(start, end, limit) {
      const r = await pool.query<{ package: string; n: string }>(`SELECT package, SUM(count) AS n FROM daily WHERE field = '' AND value = '' AND day BETWEEN $1 AND $2 GROUP BY package ORDER BY n DESC, package COLLATE "C" LIMIT $3`, [start, end, limit]);
      return r.rows.map((row) => [row.package, Number(row.n)]);
    },
    async cube(pkg, start, end, filters, series, top = Number.MAX_SAFE_INTEGER, fields = Number.MAX_SAFE_INTEGER) {
      // See Storage.cube and SQLite's: one statement, every field in one pass over the rollups or the combination table.
      for (const f of [...filters.map((x) => x.field), ...(series ?? [])]) if (!FIELD_NAME.test(f)) throw new Error(`not a field name: ${f}`);
      const args: unknown[] = [pkg, start, end];
      let totals: string;
      let src: string;
      if (filters.length === 0) {
        totals = `SELECT day, field, value, count FROM daily WHERE package = $1 AND field = '' AND value = '' AND day BETWEEN $2 AND $3`;
        src = `SELECT day, field, value, count FROM daily WHERE package = $1 AND field > '' AND day BETWEEN $2 AND $3`;
      } else {
        const where = ['c.package = $1', 'c.day BETWEEN $2 AND $3'];
        for (const f of filters) {
          args.push(f.field, f.value);
          const [k, v] = [`$${args.length - 1}`, `$${args.length}`];
          where.push(f.op === '=' ? `(c.vars::jsonb ->> ${k}::text) = ${v}::text` : `COALESCE(c.vars::jsonb ->> ${k}::text, '') <> ${v}::text`);
        }
        totals = `SELECT c.day AS day, ''::text AS field, ''::text AS value, SUM(c.count) AS count FROM combos c WHERE ${where.join(' AND ')} GROUP BY 1`;
        src = `SELECT c.day AS day, kv.key AS field, kv.value AS value, c.count AS count FROM combos c, jsonb_each_text(c.vars::jsonb) AS kv WHERE ${where.join(' AND ')}`;
      }
      let sql = totals;
      if (series) {
        const n = args.length;
        args.push(series, top, OTHER, fields);
        sql = `WITH a AS (SELECT CASE WHEN field = ANY($${n + 1}::text[]) THEN day ELSE '' END AS day, field, value, SUM(count) AS n FROM (${src}) s GROUP BY 1, 2, 3),
          r AS (SELECT field, value, row_number() OVER (PARTITION BY field ORDER BY SUM(n) DESC, value COLLATE "C") AS rn FROM a GROUP BY field, value),
          k AS (SELECT field, row_number() OVER (ORDER BY SUM(n) DESC, field COLLATE "C") AS fn FROM a GROUP BY field)
          ${totals}
          UNION ALL SELECT a.day, a.field, CASE WHEN r.rn <= $${n + 2}::bigint THEN a.value ELSE $${n + 3}::text END, SUM(a.n) FROM a JOIN r ON r.field = a.field AND r.value = a.value JOIN k ON k.field = a.field WHERE k.fn <= $${n + 4}::bigint GROUP BY 1, 2, 3`;
      }
      const r = await pool.query<{ day: string; field: string; value: string; count: string }>(sql, args);
      return r.rows.map((row): CubeRow => [row.day, row.field, row.value, Number(row.count)]);
    },
    async prune(t) {
      return tx(async (c) => {
        const n = async (sql: string, args: unknown[]) => (await c.query(sql, args)).rowCount ?? 0;
        if ('field' in t) {
          if (!FIELD_NAME.test(t.field) || t.value === OTHER) throw new Error(`not a field name: ${t.field}`);
          const args = [t.package, t.field, t.value];
          const events = await n('DELETE FROM events WHERE package = $1 AND (vars::jsonb ->> $2::text) = $3::text', args);
          await c.query('INSERT INTO daily (package, day, field, value, count) SELECT package, day, field, $4::text, count FROM daily WHERE package = $1 AND field = $2 AND value = $3 ON CONFLICT (package, field, day, value) DO UPDATE SET count = daily.count + EXCLUDED.count', [...args, OTHER]);
          let rows = await n('DELETE FROM daily WHERE package = $1 AND field = $2 AND value = $3', args);
          await c.query('INSERT INTO combos (package, day, vars, count) SELECT package, day, jsonb_set(vars::jsonb, ARRAY[$2::text], to_jsonb($4::text))::text, sum(count) FROM combos WHERE package = $1 AND (vars::jsonb ->> $2::text) = $3::text GROUP BY 1, 2, 3 ON CONFLICT (package, day, vars) DO UPDATE SET count = combos.count + EXCLUDED.count', [...args, OTHER]);
          rows += await n('DELETE FROM combos WHERE package = $1 AND (vars::jsonb ->> $2::text) = $3::text', args);
          return { events, rows };
        }
        const which = 'keep' in t ? 'NOT (package = ANY($1::text[]))' : 'package = ANY($1::text[])';
        const names = 'keep' in t ? t.keep : t.packages;
        const events = await n(`DELETE FROM events WHERE ${which}`, [names]);
        let rows = 0;
        for (const table of ['daily', 'combos', 'slots']) rows += await n(`DELETE FROM ${table} WHERE ${which}`, [names]);
        return { events, rows };
      });
    },
    async deleteCountsBefore(day) {
      return tx(async (c) => {
        let rows = 0;
        for (const table of ['daily', 'combos', 'slots']) rows += (await c.query(`DELETE FROM ${table} WHERE day < $1`, [day])).rowCount ?? 0;
        return rows;
      });
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
    async deleteBefore(cutoff, limit) {
      const r = await pool.query('DELETE FROM events WHERE id IN (SELECT id FROM events WHERE received_at < $1 LIMIT $2)', [cutoff, limit ?? null]);
      return r.rowCount ?? 0;
    },
    async metaSet(key, value) {
      await pool.query('INSERT INTO collector_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value', [key, value]);
    },
    async metaGetOrSet(key, value) {
      await pool.query('INSERT INTO collector_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING', [key, value]);
      const r = await pool.query<{ value: string }>('SELECT value FROM collector_meta WHERE key = $1', [key]);
      return r.rows[0]!.value;
    },
    async ping() {
      // A committed write, as ingest's are (a read can work while writes fail).
      await pool.query("INSERT INTO collector_meta (key, value) VALUES ('heartbeat', $1) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", [String(Date.now())]);
    },
    async close() {
      await pool.end();
    },
  };
}
