import { describe, expect, it } from 'vitest';
import { days, parsePeriod } from '../src/periods.js';
import { badgeSvg, compact, endpointBadge } from '../src/badge.js';

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

  // The message a reader of the API's 400 gets, for each way a period can be wrong. (The DATE pattern's anchors
  // cannot be told apart by a test: a date with text around it fails the round trip through Date anyway.)
  const USE = 'use last-day, last-week, last-month, last-year, YYYY-MM-DD or YYYY-MM-DD:YYYY-MM-DD';
  it.each([
    ['2026-01-01:2026-01-02:2026-01-03', USE],
    ['x:2026-01-01', USE],
    ['2026-01-01:x', USE],
    ['x2026-01-01', USE],
    ['2026-01-01x', USE],
    ['2026-11-02:2026-11-01', 'the end is before the start'],
    ['2025-05-26:2026-11-27', 'at most 550 days'],
  ])('%s is refused: %s', (text, why) => {
    expect(parsePeriod(text, '2026-11-26')).toEqual({ ok: false, error: `invalid period "${text}": ${why}` });
  });

  it('a range of exactly 550 days is accepted, 551 is not', () => {
    expect(parsePeriod('2025-05-26:2026-11-26', '2026-11-26')).toEqual({ ok: true, period: { start: '2025-05-26', end: '2026-11-26' } });
    expect(parsePeriod('2025-05-25:2026-11-26', '2026-11-26').ok).toBe(false);
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
    expect(endpointBadge(1)).toEqual({ schemaVersion: 1, label: 'installs', message: '1/week', color: 'brightgreen' });
    expect(endpointBadge(0)).toEqual({ schemaVersion: 1, label: 'installs', message: '0/week', color: 'lightgrey' });
  });

  // compact()'s `v < 10` and `/\.0$/` have equivalent mutants (`<=` gives "10" at exactly 10 either way, and
  // toFixed(1) puts ".0" only at the end); these are the widths, colours and escapes of the SVG a README shows.
  it.each([
    ['installs', '1.2k/week', 'brightgreen', { w: 131, lw: 62, mw: 69, fill: '#4c1', labelX: '31', messageX: '96.5' }],
    ['installs', '0/week', 'lightgrey', { w: 111, lw: 62, mw: 49, fill: '#9f9f9f', labelX: '31', messageX: '86.5' }],
    ['x', 'y', 'a-colour-it-does-not-know', { w: 34, lw: 17, mw: 17, fill: '#9f9f9f', labelX: '8.5', messageX: '25.5' }],
  ])('badgeSvg(%s, %s, %s)', (label, message, color, want) => {
    const svg = badgeSvg({ schemaVersion: 1, label, message, color });
    expect(svg.startsWith(`<svg xmlns="http://www.w3.org/2000/svg" width="${want.w}" height="20" role="img" aria-label="${label}: ${message}"><title>${label}: ${message}</title>`)).toBe(true);
    expect(svg).toContain(`<rect width="${want.w}" height="20" rx="3" fill="#fff"/>`);
    expect(svg).toContain(`<rect width="${want.lw}" height="20" fill="#555"/><rect x="${want.lw}" width="${want.mw}" height="20" fill="${want.fill}"/>`);
    expect(svg).toContain(`<text x="${want.labelX}" y="14">${label}</text><text x="${want.messageX}" y="14">${message}</text></g></svg>`);
    expect(svg).toContain('<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>');
    expect(svg).toContain('<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">');
  });

  it('badgeSvg escapes every character that is markup in XML', () => {
    const svg = badgeSvg({ schemaVersion: 1, label: `<a&"'>`, message: 'ok', color: 'brightgreen' });
    expect(svg).toContain('<title>&#60;a&#38;&#34;&#39;&#62;: ok</title>');
    expect(svg).not.toContain('<a&');
  });
});
