import { describe, expect, it } from 'vitest';
import { CATCH_UP, createRetention, SLACK_MS, SWEEP_BATCH, sweepAsOf, type RetentionStorage } from '../src/retention.js';
import { utcDay } from '../src/storage/types.js';

// Issue 20 items 2 and 10: retention deletes in small batches (ingest's commits go between them), and
// never as of a time ahead of what can really have passed since the last sweep.

const DAY = 86_400_000;
const T = Date.UTC(2026, 11, 7);

describe('sweepAsOf', () => {
  const cases: Array<[string, number, number | undefined, number, number]> = [
    ['first start ever: the wall clock', T, undefined, 0, T],
    ['the clock right, an hour after the last sweep', T + 3_600_000, T, 3_600_000, T + 3_600_000],
    ['the clock behind: the wall clock (deleting later is safe)', T - 5 * DAY, T, 0, T - 5 * DAY],
    ['restart with the clock 500 days ahead: at most a day past the last sweep', T + 500 * DAY, T, 0, T + SLACK_MS],
    ['500 days ahead, 10 days up since: twice real time catching up', T + 500 * DAY, T, 10 * DAY, T + CATCH_UP * 10 * DAY + SLACK_MS],
    ['a day of downtime: within the slack, swept at once', T + DAY, T, 0, T + DAY],
  ];
  it.each(cases)('%s', (_name, wall, last, elapsed, want) => expect(sweepAsOf(wall, last, elapsed)).toBe(want));
});

function fakeStorage(events: number[], meta: Record<string, string> = {}) {
  const calls: Array<[number, number | undefined]> = [];
  const countsCutoffs: string[] = [];
  const storage: RetentionStorage = {
    async deleteBefore(cutoff, limit) {
      calls.push([cutoff, limit]);
      const old = events.filter((t) => t < cutoff).slice(0, limit ?? Infinity);
      for (const t of old) events.splice(events.indexOf(t), 1);
      return old.length;
    },
    async deleteCountsBefore(day) {
      countsCutoffs.push(day);
      return 0;
    },
    async metaGetOrSet(key, value) {
      return (meta[key] ??= value);
    },
    async metaSet(key, value) {
      meta[key] = value;
    },
  };
  return { storage, calls, countsCutoffs, events, meta };
}

describe('createRetention', () => {
  const base = { retentionMs: 400 * DAY, countsRetentionMs: undefined, monotonic: () => 0, utcDay };

  it(`deletes in batches of ${SWEEP_BATCH} until a batch comes short, and keeps the time it swept as of`, async () => {
    const f = fakeStorage([...Array.from({ length: 2 * SWEEP_BATCH + 5 }, () => T - 401 * DAY), T - DAY]);
    const sweep = createRetention({ ...base, storage: f.storage, wall: () => T, log: () => {} });
    expect(await sweep()).toBe(2 * SWEEP_BATCH + 5);
    expect(f.calls).toEqual([[T - 400 * DAY, SWEEP_BATCH], [T - 400 * DAY, SWEEP_BATCH], [T - 400 * DAY, SWEEP_BATCH]]);
    expect(f.events).toEqual([T - DAY]);
    expect(f.meta.retention_clock).toBe(String(T));
  });

  it('a restart with the clock 500 days ahead deletes nothing a right clock would keep, and says so once', async () => {
    const f = fakeStorage([T - 10 * DAY, T - DAY], { retention_clock: String(T) });
    const lines: string[] = [];
    const sweep = createRetention({ ...base, countsRetentionMs: 30 * DAY, storage: f.storage, wall: () => T + 500 * DAY, log: (l) => lines.push(l) });
    expect(await sweep()).toBe(0);
    expect(await sweep()).toBe(0);
    expect(f.events).toHaveLength(2);
    // Both sweeps bounded from the time stored at start (not from the one the first sweep wrote).
    expect(f.calls.map((c) => c[0])).toEqual([T + SLACK_MS - 400 * DAY, T + SLACK_MS - 400 * DAY]);
    expect(f.countsCutoffs[0]).toBe(utcDay(T + SLACK_MS - 30 * DAY)); // the daily counts too
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/is 499 days ahead of what retention has seen; raw events are swept as of 2026-12-08T00:00:00\.000Z/);
  });

  it('counts the time elapsed since its own start, on a monotonic clock that did not start at 0', async () => {
    let mono = 7 * DAY;
    const f = fakeStorage([], { retention_clock: String(T) });
    const sweep = createRetention({ ...base, monotonic: () => mono, storage: f.storage, wall: () => T + 500 * DAY, log: () => {} });
    mono += DAY;
    await sweep();
    expect(f.calls[0]![0]).toBe(T + CATCH_UP * DAY + SLACK_MS - 400 * DAY);
  });

  it('once the clock is right again, it says so once and sweeps by the wall clock', async () => {
    let wall = T + 500 * DAY;
    const f = fakeStorage([], { retention_clock: String(T) });
    const lines: string[] = [];
    const sweep = createRetention({ ...base, storage: f.storage, wall: () => wall, log: (l) => lines.push(l) });
    await sweep();
    wall = T + 3_600_000;
    await sweep();
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/caught up with the clock/);
    expect(f.meta.retention_clock).toBe(String(T + 3_600_000));
  });

  it('a sweep still running when the next is due is not doubled', async () => {
    const f = fakeStorage([]);
    let release!: () => void;
    const slow = { ...f.storage, deleteBefore: () => new Promise<number>((r) => (release = () => r(0))) };
    const sweep = createRetention({ ...base, storage: slow, wall: () => T, log: () => {} });
    const first = sweep();
    expect(await sweep()).toBe(0);
    await new Promise((r) => setImmediate(r));
    release();
    await first;
  });
});
