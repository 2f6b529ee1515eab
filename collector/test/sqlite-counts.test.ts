// The SQLite writer's counting helpers (types.ts): a batch's new events collapse to groups (package, UTC day,
// variables) and the rollup and combination increments are computed per group, not per event; utcDay keeps
// the last day it computed.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSqlite } from '../src/storage/sqlite.js';
import { combos, rollup, TOTAL, utcDay, type Group } from '../src/storage/types.js';

const g = (pkg: string, day: string, vars: Record<string, string>, n: number): Group => ({ package: pkg, day, vars, n });

describe('rollup and combos of groups', () => {
  const cases: Array<[string, Group[], Array<[string, string, string, string, number]>, Array<[string, string, string, number]>]> = [
    ['one group of 24 events: one row per field, weighed 24', [g('a', '2026-12-07', { pm: 'npm', ci: 'false' }, 24)],
      [['a', '2026-12-07', TOTAL, TOTAL, 24], ['a', '2026-12-07', 'ci', 'false', 24], ['a', '2026-12-07', 'pm', 'npm', 24]],
      [['a', '2026-12-07', '{"ci":"false","pm":"npm"}', 24]]],
    // Groups are keyed by the raw JSON, so the same values in another key order are two groups: one combination row.
    ['the same values in two key orders: their counts add up', [g('a', '2026-12-07', { pm: 'npm', ci: 'true' }, 2), g('a', '2026-12-07', { ci: 'true', pm: 'npm' }, 3)],
      [['a', '2026-12-07', TOTAL, TOTAL, 5], ['a', '2026-12-07', 'ci', 'true', 5], ['a', '2026-12-07', 'pm', 'npm', 5]],
      [['a', '2026-12-07', '{"ci":"true","pm":"npm"}', 5]]],
    ['two days and two packages, sorted by package, day, field, value', [g('b', '2026-12-07', { pm: 'yarn' }, 1), g('a', '2026-12-08', { pm: 'npm' }, 1), g('a', '2026-12-07', { pm: 'pnpm' }, 2), g('a', '2026-12-07', {}, 1)],
      [['a', '2026-12-07', TOTAL, TOTAL, 3], ['a', '2026-12-07', 'pm', 'pnpm', 2], ['a', '2026-12-08', TOTAL, TOTAL, 1], ['a', '2026-12-08', 'pm', 'npm', 1], ['b', '2026-12-07', TOTAL, TOTAL, 1], ['b', '2026-12-07', 'pm', 'yarn', 1]],
      [['a', '2026-12-07', '{"pm":"pnpm"}', 2], ['a', '2026-12-07', '{}', 1], ['a', '2026-12-08', '{"pm":"npm"}', 1], ['b', '2026-12-07', '{"pm":"yarn"}', 1]]],
    ['no groups', [], [], []],
  ];
  it.each(cases)('%s', (_name, groups, rollups, combinations) => {
    expect(rollup(groups)).toEqual(rollups);
    expect(combos(groups)).toEqual(combinations);
  });
});

describe('utcDay keeps the last day it computed', () => {
  const day = Date.UTC(2026, 11, 7);
  // In this order: the cache must never answer for another day.
  const cases: Array<[number, string]> = [
    [day, '2026-12-07'],
    [day + 86_399_999, '2026-12-07'],
    [day + 86_400_000, '2026-12-08'],
    [day - 1, '2026-12-06'],
    [day + 1, '2026-12-07'],
    [0, '1970-01-01'],
    [-1, '1969-12-31'],
    [-86_400_000, '1969-12-31'],
    [-86_400_001, '1969-12-30'],
    [day, '2026-12-07'],
  ];
  it('gives the same day as Date for every case in turn', () => {
    expect(cases.map(([ms]) => utcDay(ms))).toEqual(cases.map(([, d]) => d));
  });
  it('throws for a time that is not one, as Date does', () => {
    expect(() => utcDay(Number.NaN)).toThrow(RangeError);
  });
});

describe('a batch of events with the same values in other spellings and key orders (real SQLite file)', () => {
  it('counts them in one rollup row per value and one combination row', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ibc-counts-'));
    const s = openSqlite(join(dir, 'c.db'));
    try {
      await s.migrate();
      const at = Date.UTC(2026, 11, 7, 12);
      const ev = (id: string, vars: Record<string, string>) => ({ package: 'c-lib', eventId: id, receivedAt: at, vars });
      expect(await s.insertBatch([ev('1', { platform: 'Linux', pm: 'npm' }), ev('2', { pm: 'npm', platform: 'linux' }), ev('3', { platform: 'linux', pm: 'npm' }), ev('3', { platform: 'darwin', pm: 'npm' })])).toBe(3);
      expect(await s.breakdown('c-lib', 'platform', '2026-12-07', '2026-12-07')).toEqual({ linux: 3 });
      expect(await s.cube('c-lib', '2026-12-07', '2026-12-07', [{ field: 'platform', op: '=', value: 'linux' }], null)).toEqual([['2026-12-07', '', '', 3]]);
      // The raw events keep what was sent.
      expect((await s.events({ since: 0, afterId: 0, limit: 10 })).map((e) => e.vars)).toEqual([{ platform: 'Linux', pm: 'npm' }, { pm: 'npm', platform: 'linux' }, { platform: 'linux', pm: 'npm' }]);
    } finally {
      await s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
