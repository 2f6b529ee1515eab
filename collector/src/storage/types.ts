// One storage interface, two implementations (SQLite, PostgreSQL), one shared
// test suite (test/storage.test.ts) run against both.
//
// Raw events are kept for the retention period (they make event_id
// de-duplication and the events export possible); every count the read API
// answers comes from daily rollups, so queries cost O(days), not O(events),
// and the counts outlive the raw events.

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
  /** Where the data lives, for the start-up lines (no password). */
  readonly where: string;
  /** Create or upgrade the schema; refuses a database newer than this collector. */
  migrate(): Promise<void>;
  /** Store events in one transaction; an event_id seen before (or twice in the batch) is stored once. Returns how many were new. */
  insertBatch(events: readonly NewEvent[]): Promise<number>;
  /** Installs per UTC day (YYYY-MM-DD) in [start, end]; days without any are absent. */
  daily(pkg: string, start: string, end: string): Promise<Map<string, number>>;
  /** Installs per value of one field in [start, end]. */
  breakdown(pkg: string, field: string, start: string, end: string): Promise<Record<string, number>>;
  /** Whether the package has any count at all. */
  hasPackage(pkg: string): Promise<boolean>;
  /** Up to `limit` raw events with id > afterId and receivedAt >= since, by id (optionally of one package). */
  events(opts: { package?: string; since: number; afterId: number; limit: number }): Promise<StoredEvent[]>;
  /** Delete raw events received before `cutoff` (ms); daily counts stay. Returns how many were deleted. */
  deleteBefore(cutoff: number): Promise<number>;
  /** The value under `key`, setting it to `value` first if there is none (one winner across instances). */
  metaGetOrSet(key: string, value: string): Promise<string>;
  /** Throws when the database does not answer. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** The schema version this collector writes; a database with a higher one is refused. */
export const SCHEMA_VERSION = 1;

/** The rollup row that counts every install (field and value both empty). */
export const TOTAL = '';

export class NewerSchemaError extends Error {
  constructor(found: number) {
    super(`the database has schema version ${found}, newer than this collector knows (${SCHEMA_VERSION}); upgrade install-beacon-collector`);
  }
}

export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The rollup increments of a batch of new events: key "package\0day\0field\0value" -> count. */
export function rollup(events: readonly NewEvent[]): Array<[string, string, string, string, number]> {
  const counts = new Map<string, number>();
  const add = (k: string) => counts.set(k, (counts.get(k) ?? 0) + 1);
  for (const e of events) {
    const day = utcDay(e.receivedAt);
    add(`${e.package}\0${day}\0${TOTAL}\0${TOTAL}`);
    for (const [field, value] of Object.entries(e.vars)) add(`${e.package}\0${day}\0${field}\0${value}`);
  }
  // Sorted: every writer takes row locks in one order (two PostgreSQL instances never deadlock).
  return [...counts.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, n]) => {
      const [p, d, f, v] = k.split('\0') as [string, string, string, string];
      return [p, d, f, v, n];
    });
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
