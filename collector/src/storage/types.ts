// One storage interface, two implementations (SQLite, PostgreSQL), one shared
// test suite (test/storage.test.ts) run against both.
//
// Raw events are kept for the retention period (they make event_id
// de-duplication and the events export possible); every count the read API
// answers comes from daily rollups (per field and value) or, for the
// dashboard's filtered views, from the daily combination table (per distinct
// set of values), so queries cost O(days) or O(days x combinations), not
// O(events), and the counts outlive the raw events.
//
// Both count tables are keyed by a field's name, not a column per field: any variable a route stores
// (routes.ts: any name) is counted and filtered with the same statements as install-beacon's own, and
// a combination row holds every variable of its events as one sorted JSON object, so a filter on any
// set of variables is one scan of a day's combination rows (bounded by Limits.combinations).

export interface NewEvent {
  package: string;
  /** The template's {event_id}, or null when the route has none (each such event counts). */
  eventId: string | null;
  /** Milliseconds since the epoch, the server's receipt time. */
  receivedAt: number;
  /** The template's other variables, decoded (name and event_id excluded). */
  vars: Record<string, string>;
}

export interface StoredEvent extends NewEvent {
  id: number;
}

export interface Storage {
  readonly kind: 'sqlite' | 'postgres';
  /** How many insertBatch calls the collector may have in flight at once (SQLite: its single writer; PostgreSQL: pooled connections). */
  readonly concurrency: number;
  /** Where the data lives, for the start-up lines (no password). */
  readonly where: string;
  /** Create or upgrade the schema; refuses a database newer than this collector. */
  migrate(): Promise<void>;
  /** Store events in one transaction; an event_id seen before (or twice in the batch) is stored once. Returns how many were new. */
  insertBatch(events: readonly NewEvent[]): Promise<number>;
  /** Installs per UTC day (YYYY-MM-DD) in [start, end], of one package or (null) of all; days without any are absent. */
  daily(pkg: string | null, start: string, end: string): Promise<Map<string, number>>;
  /** Installs per value of one field in [start, end]. */
  breakdown(pkg: string, field: string, start: string, end: string): Promise<Record<string, number>>;
  /** Every package with any count, by name. */
  packages(): Promise<string[]>;
  /** At most `limit` packages by installs in [start, end], most first (then by name): the dashboard's bounded picker. */
  topPackages(start: string, end: string, limit: number): Promise<Array<[string, number]>>;
  /**
   * The dashboard's counts over [start, end]: installs per day as [day, TOTAL, TOTAL, n]; and, unless
   * `series` is null, every (field, value) summed over the range as ['', field, value, n], except the
   * fields named in `series`, which come per day as [day, field, value, n]. Without filters they come
   * from the daily rollups (O(days)); with filters (every filter must hold), from the daily combination
   * table (one row per package, day and distinct set of variable values, with a count: O(days x distinct
   * combinations), not O(events)), which like the rollups outlives the raw events.
   * `top`: per field, only the `top` values with most installs over the range come as they are; the
   * rest come summed as the value OTHER (per day for a series field), so a field's counts still add up
   * and what leaves the database is O(fields x top + days), whatever senders sent.
   * `fields`: only the `fields` fields with most installs over the range come at all (any name can be a
   * variable, routes.ts), so that too is bounded whatever senders sent.
   */
  cube(pkg: string, start: string, end: string, filters: readonly Filter[], series: readonly string[] | null, top?: number, fields?: number): Promise<CubeRow[]>;
  /** Whether the package has any count at all. */
  hasPackage(pkg: string): Promise<boolean>;
  /** Up to `limit` raw events with id > afterId and receivedAt >= since, by id (optionally of one package). */
  events(opts: { package?: string; since: number; afterId: number; limit: number }): Promise<StoredEvent[]>;
  /** Delete raw events received before `cutoff` (ms), at most `limit` of them (retention.ts sweeps in batches); daily counts stay. Returns how many were deleted. */
  deleteBefore(cutoff: number, limit?: number): Promise<number>;
  /** Delete the daily counts (rollups, combinations, value slots) of days before `day` (YYYY-MM-DD). Returns how many rows went. */
  deleteCountsBefore(day: string): Promise<number>;
  /** Delete junk (see Prune); in one transaction. */
  prune(target: Prune): Promise<{ events: number; rows: number }>;
  /** The value under `key`, setting it to `value` first if there is none (one winner across instances). */
  metaGetOrSet(key: string, value: string): Promise<string>;
  /** Set `key` to `value`. */
  metaSet(key: string, value: string): Promise<void>;
  /** Writes a heartbeat row and commits it; throws when writes fail (and, for SQLite, when the file is no longer the one opened). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** A dashboard filter: field = value, or field != value (an event without the field is != any value). */
export interface Filter { field: string; op: '=' | '!='; value: string }
/**
 * What `prune` deletes: every event and count of the packages named, or of every package but those
 * kept; or one value of one field of a package: its raw events are deleted and its counts move to
 * that field's OTHER bucket (so every day's total and the field's sum stay right).
 */
export type Prune = { packages: string[] } | { keep: string[] } | { package: string; field: string; value: string };

/**
 * Bounds on what senders can make the database track (anyone can send). Per package, UTC day and
 * field at most `values` distinct values are counted as themselves; later new values of that day are
 * counted in the value OTHER. Per package and day at most `combinations` distinct sets of values get
 * a row of their own in the combination table; later new sets count in the row of the empty set `{}`
 * (so they count as an event without variables in a filtered view: left out by "=", counted by "!=").
 */
export interface Limits { values: number; combinations: number }
export const DEFAULT_LIMITS: Limits = { values: 500, combinations: 5000 };

/**
 * The bucket of values past a bound. It starts with U+0001, a control character that ingest refuses
 * in any value (routes.ts), so no sender can send it.
 */
export const OTHER = '\u0001other';

/** [day, field, value, count]; day is '' for a count summed over the whole range. */
export type CubeRow = [string, string, string, number];

/**
 * Field names reach SQL (SQLite's as quoted JSON path labels, `$."a.b"`): only these shapes, the
 * names ingest stores (routes.ts VAR_NAME).
 */
export const FIELD_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
export const jsonPath = (field: string): string => `$."${field}"`;

/** The schema version this collector writes; a database with a higher one is refused. */
export const SCHEMA_VERSION = 4;

/**
 * The key of an event's row in the daily combination table: its variables as JSON with the keys
 * sorted, so that events with the same values share one row whatever order they came in.
 */
export function comboKey(vars: Record<string, string>): string {
  return JSON.stringify(Object.fromEntries(Object.entries(vars).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
}

/**
 * A batch's new events of one package and UTC day with the same variables (as the counts keep them), and how
 * many: a batch collapses to these before its rollups and combinations are counted, so that work is per
 * distinct set of values, not per event.
 */
export interface Group { package: string; day: string; vars: Record<string, string>; n: number }

/** The combination-table increments of a batch's groups: [package, day, key, count], sorted (one lock order). */
export function combos(groups: readonly Group[]): Array<[string, string, string, number]> {
  const counts = new Map<string, [string, string, string, number]>();
  for (const g of groups) {
    const key = comboKey(g.vars);
    const k = `${g.package}\0${g.day}\0${key}`;
    const row = counts.get(k);
    if (row) row[3] += g.n;
    else counts.set(k, [g.package, g.day, key, g.n]);
  }
  return sortedRows(counts);
}

/** The map's rows in the order of their keys (code unit order). */
function sortedRows<R>(rows: Map<string, R>): R[] {
  return [...rows.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, r]) => r);
}

/** The rollup row that counts every install (field and value both empty). */
export const TOTAL = '';

export class NewerSchemaError extends Error {
  constructor(found: number) {
    super(`the database has schema version ${found}, newer than this collector knows (${SCHEMA_VERSION}); upgrade install-beacon-collector`);
  }
}

const DAY_MS = 86_400_000;
/** The last day computed (a batch's events are nearly all of one day): its first ms, its end, its text. */
let lastDay = { from: 0, to: -1, text: '' };

export function utcDay(ms: number): string {
  if (ms >= lastDay.from && ms < lastDay.to) return lastDay.text;
  const text = new Date(ms).toISOString().slice(0, 10);
  const from = Math.floor(ms / DAY_MS) * DAY_MS;
  lastDay = { from, to: from + DAY_MS, text };
  return text;
}

/** The rollup increments of a batch's groups: [package, day, field, value, count] (field and value TOTAL: every install), sorted by "package\0day\0field\0value". */
export function rollup(groups: readonly Group[]): Array<[string, string, string, string, number]> {
  const counts = new Map<string, [string, string, string, string, number]>();
  const add = (p: string, d: string, f: string, v: string, n: number) => {
    const k = `${p}\0${d}\0${f}\0${v}`;
    const row = counts.get(k);
    if (row) row[4] += n;
    else counts.set(k, [p, d, f, v, n]);
  };
  for (const g of groups) {
    add(g.package, g.day, TOTAL, TOTAL, g.n);
    for (const field of Object.keys(g.vars)) add(g.package, g.day, field, g.vars[field]!, g.n);
  }
  // Sorted: every writer takes row locks in one order (two PostgreSQL instances never deadlock).
  return sortedRows(counts);
}

/**
 * Drop repeats of an event_id inside one batch (the first stays), and sort by
 * event_id (events without one first, in arrival order): concurrent writers
 * then take the unique index's locks in one order, and both databases store a
 * batch in the same order.
 */
export function uniqueInBatch(events: readonly NewEvent[]): NewEvent[] {
  const seen = new Set<string>();
  return events
    .filter((e) => e.eventId === null || (!seen.has(e.eventId) && (seen.add(e.eventId), true)))
    .sort((a, b) => ((a.eventId ?? '') < (b.eventId ?? '') ? -1 : (a.eventId ?? '') > (b.eventId ?? '') ? 1 : 0));
}
