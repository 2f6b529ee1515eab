import { describe, expect, it } from 'vitest';
import { days, parsePeriod } from '../src/periods.js';
import { compact, endpointBadge } from '../src/badge.js';

describe('parsePeriod (ending today)', () => {
  it.each([
    ['last-day', '2026-11-26', '2026-11-26'],
    ['last-week', '2026-11-20', '2026-11-26'],
    ['last-month', '2026-10-28', '2026-11-26'],
    ['last-year', '2025-11-27', '2026-11-26'],
    ['2026-02-28', '2026-02-28', '2026-02-28'],
    ['2024-02-28:2024-03-01', '2024-02-28', '2024-03-01'],
  ])('%s -> %s..%s', (text, start, end) => {
    expect(parsePeriod(text, '2026-11-26')).toEqual({ ok: true, period: { start, end } });
  });

  it.each(['last-decade', '2026-02-30', '2026-1-01', '2026-11-02:2026-11-01', '2020-01-01:2026-01-01', 'a:b:c', ''])('%s is refused', (text) => {
    expect(parsePeriod(text, '2026-11-26').ok).toBe(false);
  });

  it('days() lists every day inclusive, across a leap day', () => {
    expect(days({ start: '2024-02-28', end: '2024-03-01' })).toEqual(['2024-02-28', '2024-02-29', '2024-03-01']);
  });
});

describe('badge', () => {
  it.each([
    [0, '0'], [999, '999'], [1000, '1k'], [1234, '1.2k'], [12_345, '12k'], [1_250_000, '1.2M'], [3_400_000_000, '3.4B'],
  ])('compact(%d) = %s', (n, text) => {
    expect(compact(n)).toBe(text);
  });
  it('the endpoint badge has exactly the shields schema keys', () => {
    expect(Object.keys(endpointBadge(5)).sort()).toEqual(['color', 'label', 'message', 'schemaVersion']);
    expect(endpointBadge(1234)).toEqual({ schemaVersion: 1, label: 'installs', message: '1.2k/week', color: 'brightgreen' });
  });
});
