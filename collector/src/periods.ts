// The npm download-counts API's periods, ending today (UTC): an event counts
// the moment it is stored. Pure: `today` is passed in.

export interface Period { start: string; end: string }

const NAMED: Record<string, number> = { 'last-day': 1, 'last-week': 7, 'last-month': 30, 'last-year': 365 };
/** The longest range a query may span (npm: 18 months). */
export const MAX_DAYS = 550;

const DAY = 86_400_000;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

export function dayNumber(day: string): number | undefined {
  const m = DATE.exec(day);
  if (!m) return undefined;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  // Rejects 2026-02-30 and the like: the date must survive the round trip.
  return new Date(ms).toISOString().slice(0, 10) === day ? ms / DAY : undefined;
}

export const dayString = (n: number): string => new Date(n * DAY).toISOString().slice(0, 10);

export function parsePeriod(text: string, today: string): { ok: true; period: Period } | { ok: false; error: string } {
  const t = dayNumber(today)!;
  const named = NAMED[text];
  if (named !== undefined) return { ok: true, period: { start: dayString(t - named + 1), end: today } };
  const [a, b, extra] = text.split(':');
  const start = dayNumber(a ?? '');
  const end = b === undefined ? start : dayNumber(b);
  if (extra !== undefined || start === undefined || end === undefined) {
    return { ok: false, error: `invalid period "${text}": use last-day, last-week, last-month, last-year, YYYY-MM-DD or YYYY-MM-DD:YYYY-MM-DD` };
  }
  if (end < start) return { ok: false, error: `invalid period "${text}": the end is before the start` };
  if (end - start + 1 > MAX_DAYS) return { ok: false, error: `invalid period "${text}": at most ${MAX_DAYS} days` };
  return { ok: true, period: { start: dayString(start), end: dayString(end) } };
}

/** Every day from start to end, inclusive. */
export function days(p: Period): string[] {
  const out: string[] = [];
  for (let n = dayNumber(p.start)!, e = dayNumber(p.end)!; n <= e; n++) out.push(dayString(n));
  return out;
}
