// SQLite (better-sqlite3): one file in WAL mode, synchronous=FULL so a
// committed batch survives a crash of the process and of the machine.
// Prepared statements, one transaction per batch (better-sqlite3's own advice).
import { closeSync, existsSync, fstatSync, openSync, readlinkSync, readSync, statSync } from 'node:fs';
import { endianness } from 'node:os';
import Database from 'better-sqlite3';
import { archSql, countedVars, platformSql } from './platforms.js';
import { combos, DEFAULT_LIMITS, FIELD_NAME, jsonPath, NewerSchemaError, OTHER, rollup, SCHEMA_VERSION, TOTAL, uniqueInBatch, utcDay, type CubeRow, type Filter, type Group, type Limits, type NewEvent, type Prune, type Storage, type StoredEvent } from './types.js';
import { clock, stage, tracing } from '../trace.js';

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
  // Value slots (see Limits): per package, field and day, how many distinct values have a row of their
  // own (field '': how many combinations), backfilled from what is stored. The partial index serves
  // the picker's packages-by-installs query.
  `CREATE TABLE slots (
     package TEXT NOT NULL,
     field TEXT NOT NULL,
     day TEXT NOT NULL,
     n INTEGER NOT NULL,
     PRIMARY KEY (package, field, day)
   ) WITHOUT ROWID;
   INSERT INTO slots (package, field, day, n) SELECT package, field, day, count(*) FROM daily WHERE field > '' GROUP BY 1, 2, 3;
   INSERT INTO slots (package, field, day, n) SELECT package, '', day, count(*) FROM combos GROUP BY 1, 3;
   CREATE INDEX daily_totals ON daily (day, package) WHERE field = '';`,
  // Platform and arch are counted under Node's names however they were spelled (platforms.ts):
  // what was counted before moves to those names, and the value slots are recounted.
  ['platform', 'arch'].map((f) => {
    const canon = (f === 'platform' ? platformSql : archSql)('value');
    const inJson = (f === 'platform' ? platformSql : archSql)(`json_extract(vars, '$.${f}')`);
    const moved = `json_set(vars, '$.${f}', ${inJson})`;
    return `INSERT INTO daily (package, day, field, value, count) SELECT package, day, field, ${canon}, SUM(count) FROM daily WHERE field = '${f}' AND value <> ${canon} GROUP BY 1, 2, 3, 4
       ON CONFLICT (package, field, day, value) DO UPDATE SET count = count + excluded.count;
     DELETE FROM daily WHERE field = '${f}' AND value <> ${canon};
     INSERT INTO combos (package, day, vars, count) SELECT package, day, ${moved}, SUM(count) FROM combos WHERE json_extract(vars, '$.${f}') <> ${inJson} GROUP BY 1, 2, 3
       ON CONFLICT (package, day, vars) DO UPDATE SET count = count + excluded.count;
     DELETE FROM combos WHERE json_extract(vars, '$.${f}') <> ${inJson};
     UPDATE slots SET n = (SELECT count(*) FROM daily d WHERE d.package = slots.package AND d.field = slots.field AND d.day = slots.day AND d.value <> '${OTHER}') WHERE field = '${f}';`;
  }).join('\n') + `
   UPDATE slots SET n = (SELECT count(*) FROM combos c WHERE c.package = slots.package AND c.day = slots.day AND c.vars <> '{}') WHERE field = '';`,
];

interface EventRow { id: number; event_id: string | null; package: string; received_at: number; vars: string }

/**
 * How this connection's WAL gets checkpointed: `auto`, SQLite's default (the commit that takes the WAL past 1000
 * pages copies them into the database file and fsyncs it, inside that commit); `external`, never inside a commit
 * (wal_autocheckpoint=0): the caller runs checkpoints (sqlite-worker.ts: another thread, and `checkpoint` here
 * between commits when the WAL passes its bound).
 */
export interface SqliteOptions { checkpoints?: 'auto' | 'external' }

/** The largest the WAL file is kept at when it starts over (journal_size_limit): reused, not truncated and regrown. */
export const WAL_SIZE_LIMIT = 64 * 1024 * 1024;

/** A SQLite Storage, and (for sqlite-worker.ts) a PASSIVE checkpoint on its own connection: [busy, WAL frames, frames checkpointed]. */
export type SqliteStorage = Storage & { checkpoint(): [number, number, number] };

export function openSqlite(file: string, limits: Limits = DEFAULT_LIMITS, options: SqliteOptions = {}): SqliteStorage {
  const db = new Database(file, { timeout: 5000 });
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  if (options.checkpoints === 'external') db.pragma('wal_autocheckpoint = 0');
  db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT}`);
  db.exec('CREATE TABLE IF NOT EXISTS collector_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
  const sameFiles = fileWatch(file);

  let stmts: ReturnType<typeof prepare> | undefined;
  const prepare = () => ({
    insertEvent: db.prepare('INSERT INTO events (event_id, package, received_at, vars) VALUES (?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING'),
    bump: db.prepare('INSERT INTO daily (package, day, field, value, count) VALUES (?, ?, ?, ?, ?) ON CONFLICT (package, field, day, value) DO UPDATE SET count = count + excluded.count'),
    add: db.prepare('UPDATE daily SET count = count + ? WHERE package = ? AND field = ? AND day = ? AND value = ?'),
    // A new value (or combination) takes a slot while there is one; RETURNING gives no row once they are gone.
    claim: db.prepare<[string, string, string, number], { n: number }>('INSERT INTO slots (package, field, day, n) VALUES (?, ?, ?, 1) ON CONFLICT (package, field, day) DO UPDATE SET n = n + 1 WHERE n < ? RETURNING n'),
    addCombo: db.prepare('UPDATE combos SET count = count + ? WHERE package = ? AND day = ? AND vars = ?'),
    topPackages: db.prepare<[string, string, number], [string, number]>("SELECT package, SUM(count) AS n FROM daily WHERE field = '' AND value = '' AND day BETWEEN ? AND ? GROUP BY package ORDER BY n DESC, package LIMIT ?").raw(),
    combo: db.prepare('INSERT INTO combos (package, day, vars, count) VALUES (?, ?, ?, ?) ON CONFLICT (package, day, vars) DO UPDATE SET count = count + excluded.count'),
    daily: db.prepare<[string, string, string, string, string], { day: string; count: number }>('SELECT day, count FROM daily WHERE package = ? AND field = ? AND value = ? AND day BETWEEN ? AND ?'),
    dailyAll: db.prepare<[string, string], { day: string; count: number }>("SELECT day, SUM(count) AS count FROM daily WHERE field = '' AND value = '' AND day BETWEEN ? AND ? GROUP BY day"),
    breakdown: db.prepare<[string, string, string, string], { value: string; count: number }>('SELECT value, SUM(count) AS count FROM daily WHERE package = ? AND field = ? AND day BETWEEN ? AND ? GROUP BY value'),
    packages: db.prepare<[string], { package: string }>('SELECT DISTINCT package FROM daily WHERE field = ? ORDER BY package'),
    has: db.prepare<[string, string], { one: number }>('SELECT 1 AS one FROM daily WHERE package = ? AND field = ? LIMIT 1'),
    eventsAll: db.prepare<[number, number, number], EventRow>('SELECT * FROM events WHERE id > ? AND received_at >= ? ORDER BY id LIMIT ?'),
    eventsOf: db.prepare<[number, number, string, number], EventRow>('SELECT * FROM events WHERE id > ? AND received_at >= ? AND package = ? ORDER BY id LIMIT ?'),
  });
  const s = () => (stmts ??= prepare());

  // Stage marks for the benchmark (trace.ts): begin, after the INSERTs, the rollups, the combinations.
  const marks: number[] = [];
  const mark = () => tracing() && marks.push(clock());
  const insertTx = db.transaction((events: NewEvent[]) => {
    mark();
    // The new events by package, day and variables (as sent: the raw JSON, which the INSERT needs anyway),
    // counted: the rollups and combinations are per group, not per event.
    const groups = new Map<string, Group>();
    let fresh = 0;
    for (const e of events) {
      const raw = JSON.stringify(e.vars);
      if (s().insertEvent.run(e.eventId, e.package, e.receivedAt, raw).changes !== 1) continue;
      fresh++;
      const day = utcDay(e.receivedAt);
      const k = `${e.package}\0${day}\0${raw}`;
      const g = groups.get(k);
      // The raw event keeps what was sent; the counts keep platform and arch under one name (platforms.ts).
      if (g) g.n++;
      else groups.set(k, { package: e.package, day, vars: countedVars(e.vars), n: 1 });
    }
    // Past the bound of a field's values that day, a new value counts as OTHER, in the rollups and in the combinations.
    mark();
    const all = [...groups.values()];
    const folded = new Set<string>();
    for (const [p, d, f, v, n] of rollup(all)) {
      if (f === TOTAL) s().bump.run(p, d, f, v, n);
      else if (s().add.run(n, p, f, d, v).changes === 0) {
        const own = s().claim.get(p, f, d, limits.values) !== undefined;
        if (!own) folded.add(`${p}\0${d}\0${f}\0${v}`);
        s().bump.run(p, d, f, own ? v : OTHER, n);
      }
    }
    mark();
    const kept = folded.size === 0 ? all : all.map((g) => ({ ...g, vars: Object.fromEntries(Object.entries(g.vars).map(([f, v]) => [f, folded.has(`${g.package}\0${g.day}\0${f}\0${v}`) ? OTHER : v])) }));
    for (const [p, d, key, n] of combos(kept)) {
      if (s().addCombo.run(n, p, d, key).changes === 1) continue;
      s().combo.run(p, d, s().claim.get(p, TOTAL, d, limits.combinations) !== undefined ? key : '{}', n);
    }
    mark();
    return fresh;
  });

  const toEvent = (r: EventRow): StoredEvent => ({ id: r.id, eventId: r.event_id, package: r.package, receivedAt: r.received_at, vars: JSON.parse(r.vars) as Record<string, string> });

  /** The dashboard's counts (see Storage.cube): one statement, every field in one pass over the rollups or the combination table. */
  function cube(pkg: string, start: string, end: string, filters: readonly Filter[], series: readonly string[] | null, top = Number.MAX_SAFE_INTEGER, fields = Number.MAX_SAFE_INTEGER): CubeRow[] {
    for (const f of [...filters.map((x) => x.field), ...(series ?? [])]) if (!FIELD_NAME.test(f)) throw new Error(`not a field name: ${f}`);
    const inSeries = series && series.length > 0 ? `IN (${series.map((f) => `'${f}'`).join(', ')})` : 'IN (NULL)';
    let totals: string;
    let src: string;
    let cond: unknown[];
    if (filters.length === 0) {
      cond = [pkg, start, end];
      totals = `SELECT day, field, value, count FROM daily WHERE package = ? AND field = '' AND value = '' AND day BETWEEN ? AND ?`;
      src = `SELECT day, field, value, count FROM daily WHERE package = ? AND field > '' AND day BETWEEN ? AND ?`;
    } else {
      const where: string[] = ['c.package = ?', 'c.day BETWEEN ? AND ?'];
      cond = [pkg, start, end];
      for (const f of filters) {
        where.push(f.op === '=' ? 'json_extract(c.vars, ?) = ?' : "IFNULL(json_extract(c.vars, ?), '') != ?");
        cond.push(jsonPath(f.field), f.value);
      }
      totals = `SELECT c.day AS day, '' AS field, '' AS value, SUM(c.count) AS count FROM combos c WHERE ${where.join(' AND ')} GROUP BY 1`;
      src = `SELECT c.day AS day, j.key AS field, CAST(j.value AS TEXT) AS value, c.count AS count FROM combos c, json_each(c.vars) j WHERE ${where.join(' AND ')}`;
    }
    if (!series) return db.prepare(totals).raw().all(...cond) as CubeRow[];
    // a: per field and value (per day for the series fields); r: each value's rank in its field over the range;
    // k: each field's rank by installs over the range.
    const sql = `WITH a AS (SELECT CASE WHEN field ${inSeries} THEN day ELSE '' END AS day, field, value, SUM(count) AS n FROM (${src}) GROUP BY 1, 2, 3),
      r AS (SELECT field, value, row_number() OVER (PARTITION BY field ORDER BY SUM(n) DESC, value) AS rn FROM a GROUP BY field, value),
      k AS (SELECT field, row_number() OVER (ORDER BY SUM(n) DESC, field) AS fn FROM a GROUP BY field)
      ${totals}
      UNION ALL SELECT a.day, a.field, CASE WHEN r.rn <= ? THEN a.value ELSE ? END, SUM(a.n) FROM a JOIN r ON r.field = a.field AND r.value = a.value JOIN k ON k.field = a.field WHERE k.fn <= ? GROUP BY 1, 2, 3`;
    return db.prepare(sql).raw().all(...cond, ...cond, top, OTHER, fields) as CubeRow[];
  }

  const pruneTx = db.transaction((t: Prune) => {
    let events = 0;
    let rows = 0;
    if ('field' in t) {
      if (!FIELD_NAME.test(t.field) || t.value === OTHER) throw new Error(`not a field name: ${t.field}`);
      const path = jsonPath(t.field);
      events = db.prepare('DELETE FROM events WHERE package = ? AND json_extract(vars, ?) = ?').run(t.package, path, t.value).changes;
      db.prepare('INSERT INTO daily (package, day, field, value, count) SELECT package, day, field, ?, count FROM daily WHERE package = ? AND field = ? AND value = ? AND true ON CONFLICT (package, field, day, value) DO UPDATE SET count = count + excluded.count').run(OTHER, t.package, t.field, t.value);
      rows += db.prepare('DELETE FROM daily WHERE package = ? AND field = ? AND value = ?').run(t.package, t.field, t.value).changes;
      db.prepare('INSERT INTO combos (package, day, vars, count) SELECT package, day, json_set(vars, ?, ?), count FROM combos WHERE package = ? AND json_extract(vars, ?) = ? AND true ON CONFLICT (package, day, vars) DO UPDATE SET count = count + excluded.count').run(path, OTHER, t.package, path, t.value);
      rows += db.prepare('DELETE FROM combos WHERE package = ? AND json_extract(vars, ?) = ?').run(t.package, path, t.value).changes;
      return { events, rows };
    }
    const which = 'keep' in t ? 'package NOT IN (SELECT value FROM json_each(?))' : 'package IN (SELECT value FROM json_each(?))';
    const names = JSON.stringify('keep' in t ? t.keep : t.packages);
    events = db.prepare(`DELETE FROM events WHERE ${which}`).run(names).changes;
    for (const table of ['daily', 'combos', 'slots']) rows += db.prepare(`DELETE FROM ${table} WHERE ${which}`).run(names).changes;
    return { events, rows };
  });

  return {
    kind: 'sqlite',
    concurrency: 1,
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
      const t = tracing() ? clock() : 0;
      if (t) marks.length = 0;
      const fresh = insertTx.immediate(uniqueInBatch(events));
      if (t) {
        const [begin, inserted, rolled, combined] = marks as [number, number, number, number];
        const w = events.length;
        stage('dedupe + BEGIN', begin - t, w);
        stage('INSERTs', inserted - begin, w);
        stage('rollup upserts', rolled - inserted, w);
        stage('combination upserts', combined - rolled, w);
        stage('COMMIT (fsync)', clock() - combined, w);
      }
      // Checked after the commit: a batch that went into a deleted file is lost, so it must not be acknowledged.
      sameFiles.check();
      return fresh;
    },
    async daily(pkg, start, end) {
      const rows = pkg === null ? s().dailyAll.all(start, end) : s().daily.all(pkg, TOTAL, TOTAL, start, end);
      return new Map(rows.map((r) => [r.day, r.count]));
    },
    async breakdown(pkg, field, start, end) {
      return Object.fromEntries(s().breakdown.all(pkg, field, start, end).map((r) => [r.value, r.count]));
    },
    async packages() {
      return s().packages.all(TOTAL).map((r) => r.package);
    },
    async topPackages(start, end, limit) {
      return s().topPackages.all(start, end, limit);
    },
    async cube(pkg, start, end, filters, series, top, fields) {
      return cube(pkg, start, end, filters, series, top, fields);
    },
    async prune(target) {
      return pruneTx.immediate(target);
    },
    async deleteCountsBefore(day) {
      return db.transaction(() => ['daily', 'combos', 'slots'].reduce((n, table) => n + db.prepare(`DELETE FROM ${table} WHERE day < ?`).run(day).changes, 0)).immediate();
    },
    async hasPackage(pkg) {
      return s().has.get(pkg, TOTAL) !== undefined;
    },
    async events({ package: pkg, since, afterId, limit }) {
      const rows = pkg === undefined ? s().eventsAll.all(afterId, since, limit) : s().eventsOf.all(afterId, since, pkg, limit);
      return rows.map(toEvent);
    },
    async deleteBefore(cutoff, limit = -1) {
      return db.prepare('DELETE FROM events WHERE id IN (SELECT id FROM events WHERE received_at < ? LIMIT ?)').run(cutoff, limit).changes;
    },
    async metaSet(key, value) {
      db.prepare('INSERT INTO collector_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value);
    },
    async metaGetOrSet(key, value) {
      db.prepare('INSERT INTO collector_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING').run(key, value);
      return db.prepare<[string], { value: string }>('SELECT value FROM collector_meta WHERE key = ?').get(key)!.value;
    },
    async ping() {
      // A durable write, as a commit would do (a read works on a full or deleted file).
      db.prepare("INSERT INTO collector_meta (key, value) VALUES ('heartbeat', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value").run(String(Date.now()));
      sameFiles.check();
    },
    async close() {
      db.close();
      sameFiles.close();
    },
    checkpoint() {
      const [r] = db.pragma('wal_checkpoint(PASSIVE)') as Array<{ busy: number; log: number; checkpointed: number }>;
      return [r!.busy, r!.log, r!.checkpointed];
    },
  };
}

/**
 * The WAL's length in frames (mxFrame) and how many of them are in the database file (nBackfill), read from the
 * wal-index header in the -shm file (https://www.sqlite.org/walformat.html: mxFrame at byte 16, nBackfill at
 * byte 96, both in the machine's byte order). Read without SQLite's locks: exact only for the thread whose
 * connection wrote last (the writer, right after its commit); [0, 0] while there is no -shm. Its descriptor is
 * never closed: closing any descriptor of the -shm would drop this process's POSIX locks on it, which are SQLite's.
 */
export function walIndex(file: string): () => { frames: number; backfilled: number } {
  const buf = Buffer.alloc(100);
  const le = endianness() === 'LE';
  let fd: number | undefined;
  return () => {
    try {
      fd ??= openSync(`${file}-shm`, 'r');
      if (readSync(fd, buf, 0, 100, 0) < 100) return { frames: 0, backfilled: 0 };
    } catch {
      return { frames: 0, backfilled: 0 };
    }
    return le ? { frames: buf.readUInt32LE(16), backfilled: buf.readUInt32LE(96) } : { frames: buf.readUInt32BE(16), backfilled: buf.readUInt32BE(96) };
  };
}

export class DatabaseFileGoneError extends Error {
  constructor(path: string, how: string) {
    super(`the database file ${path} is no longer the one opened (${how}): what is written now would be lost at restart; restore the file or restart the collector`);
  }
}

/**
 * The database file and its WAL as opened (device and inode); the returned check throws
 * DatabaseFileGoneError once either path is missing or is another file (deleted, or replaced by
 * a copy): SQLite would go on writing into the unlinked file, and all of it is gone at restart.
 * The -shm is not checked: it holds no data (it is rebuilt from the WAL). `close` ends the watch.
 *
 * The WAL is not stat'ed per commit where /proc/self/fd is there (Linux): a stat that asks for the
 * times marks them as read, and the next write of the file (the next commit) must then give it a
 * fine-grained new mtime, which dirties the inode, so the commit's fsync writes the inode too: one more
 * disk write per commit (ext4 and XFS since Linux 6.13, multigrain timestamps). Instead this keeps a
 * descriptor of its own on the WAL as opened and reads where it points (/proc/self/fd/N), which ends in
 * " (deleted)" once the file is unlinked or replaced by a rename. (Not so for the database file: closing
 * a descriptor of it would drop this process's POSIX locks on it, SQLite's. Its inode is written only
 * by checkpoints, so its stat costs the commits nothing.)
 */
export function fileWatch(file: string, stat: (path: string) => { dev: bigint; ino: bigint } | undefined = (path) => statSync(path, { bigint: true, throwIfNoEntry: false })): { check(): void; close(): void } {
  if (file === ':memory:' || file === '') return { check() {}, close() {} };
  const id = (path: string) => {
    const st = stat(path);
    return st && `${st.dev}:${st.ino}`;
  };
  const wal = `${file}-wal`;
  const opened = id(file);
  let walId: string | undefined;
  /** Our descriptor on the WAL and where it pointed when opened; undefined without /proc/self/fd. */
  let walFd: { fd: number; link: string } | undefined;
  const procFd = existsSync('/proc/self/fd');
  const watchWal = () => {
    walId = id(wal);
    if (walId === undefined || !procFd) return;
    try {
      const fd = openSync(wal, 'r');
      const st = fstatSync(fd, { bigint: true });
      if (`${st.dev}:${st.ino}` === walId) walFd = { fd, link: readlinkSync(`/proc/self/fd/${fd}`) };
      else closeSync(fd); // replaced between the two: the next check stats it
    } catch {
      // the next check stats it
    }
  };
  watchWal();
  const gone = (path: string, now: string | undefined) => new DatabaseFileGoneError(path, now === undefined ? 'deleted' : 'replaced by another file');
  return {
    check() {
      const db = id(file);
      if (db !== opened) throw gone(file, db);
      if (walFd) {
        if (readlinkSync(`/proc/self/fd/${walFd.fd}`) !== walFd.link) throw gone(wal, id(wal));
      } else if (walId === undefined) watchWal(); // a WAL not there yet at open: the first one seen is ours
      else {
        const now = id(wal);
        if (now !== walId) throw gone(wal, now);
      }
    },
    close() {
      if (walFd) closeSync(walFd.fd);
      walFd = undefined;
    },
  };
}
