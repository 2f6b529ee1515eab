// Retention: raw events older than the retention period are deleted (and the daily
// counts too with --counts-retention-days), in small batches so that ingest's
// commits go between them (one DELETE of a million rows held SQLite's write lock
// for about 2 s).
//
// The time retention sweeps "as of" may not run ahead of real time. A clock far
// ahead at start (500 days) would otherwise delete every raw event, and with them
// the event_ids that de-duplicate the hook's retries and replays (issue 20 item 10):
// replaying 50 acknowledged events then counted 100. So the last sweep's time is
// kept in the database, and a sweep goes at most `elapsed × CATCH_UP + SLACK_MS`
// past it, where `elapsed` is the process's monotonic time since start: a wrong
// clock deletes at most a day early, a right one after downtime catches up at twice
// real time (the raw events of the downtime are kept that much longer meanwhile).
// Keeping event_ids apart from raw events was the other way out; it needs an expiry
// of its own, which the same wrong clock would wipe just the same.

export const SLACK_MS = 24 * 3_600_000;
export const CATCH_UP = 2;
/** Rows per DELETE. */
export const SWEEP_BATCH = 2000;

/** The time to sweep as of: the wall clock, bounded by the last sweep's time plus what can have passed since. */
export function sweepAsOf(wall: number, last: number | undefined, elapsedMs: number): number {
  return last === undefined ? wall : Math.min(wall, last + elapsedMs * CATCH_UP + SLACK_MS);
}

export interface RetentionStorage {
  /** At most `limit` raw events received before `cutoff` are deleted; returns how many. */
  deleteBefore(cutoff: number, limit?: number): Promise<number>;
  deleteCountsBefore(day: string): Promise<number>;
  metaGetOrSet(key: string, value: string): Promise<string>;
  metaSet(key: string, value: string): Promise<void>;
}

export interface RetentionOptions {
  storage: RetentionStorage;
  retentionMs: number;
  countsRetentionMs: number | undefined;
  wall(): number;
  /** Monotonic milliseconds (performance.now). */
  monotonic(): number;
  log(line: string): void;
  utcDay(ms: number): string;
}

const CLOCK_KEY = 'retention_clock';
const DAY = 24 * 3_600_000;

/** One sweep per call of the returned function; resolves with the raw events deleted. */
export function createRetention(o: RetentionOptions): () => Promise<number> {
  const start = o.monotonic();
  let last: number | undefined;
  let ahead = false;
  let running = false;
  return async function sweep(): Promise<number> {
    if (running) return 0; // the last hour's sweep is still going
    running = true;
    try {
      return await sweepNow();
    } finally {
      running = false;
    }
  };
  async function sweepNow(): Promise<number> {
    const wall = o.wall();
    if (last === undefined) {
      const stored = Number(await o.storage.metaGetOrSet(CLOCK_KEY, String(wall)));
      last = Number.isFinite(stored) ? stored : wall;
    }
    const asOf = sweepAsOf(wall, last, o.monotonic() - start);
    if (asOf < wall !== ahead) {
      ahead = asOf < wall;
      o.log(
        ahead
          ? `install-beacon-collector: the clock (${new Date(wall).toISOString()}) is ${Math.round((wall - asOf) / DAY)} days ahead of what retention has seen; raw events are swept as of ${new Date(asOf).toISOString()} (so a wrong clock deletes nothing early)`
          : 'install-beacon-collector: retention has caught up with the clock',
      );
    }
    let deleted = 0;
    for (;;) {
      const n = await o.storage.deleteBefore(asOf - o.retentionMs, SWEEP_BATCH);
      deleted += n;
      if (n < SWEEP_BATCH) break;
    }
    if (o.countsRetentionMs !== undefined) await o.storage.deleteCountsBefore(o.utcDay(asOf - o.countsRetentionMs));
    // Time moves on from here even when the clock was behind: the bound is about running ahead.
    await o.storage.metaSet(CLOCK_KEY, String(asOf));
    return deleted;
  }
}
