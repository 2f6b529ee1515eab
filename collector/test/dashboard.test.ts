import { describe, expect, it } from 'vitest';
import { dashboardPage, emptyPage, escapeText, FIELDS_SHOWN, groupVersion, html, MAX_PAGE_BYTES, numbers, parseView, PICKER, tokenPage, TOP, viewUrl, type View } from '../src/dashboard.js';
import { FIELDS } from '../src/routes.js';
import { OTHER, type CubeRow } from '../src/storage/types.js';

// The dashboard's pure parts: escaping, the view a URL asks for, the numbers from cube rows, the page.

const TODAY = '2026-11-26';
const view = (q: string) => parseView(new URLSearchParams(q), TODAY);

describe('html: every interpolated value is text', () => {
  it.each([
    ['<img src=x onerror=alert(1)>', '&lt;img src=x onerror=alert(1)&gt;'],
    ['"><script>alert(1)</script>', '&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;'],
    ["' onmouseover='x", '&#39; onmouseover=&#39;x'],
    ['a & b `c`', 'a &amp; b &#96;c&#96;'],
  ])('%s', (input, escaped) => {
    expect(escapeText(input)).toBe(escaped);
    expect(html`<td title="${input}">${input}</td>`.text).toBe(`<td title="${escaped}">${escaped}</td>`);
    expect(html`<p>${[input, html`<b>${input}</b>`]}</p>`.text).toBe(`<p>${escaped}<b>${escaped}</b></p>`);
  });
});

describe('parseView: the URL is the view', () => {
  it.each([
    ['', { range: 30, start: '2026-10-28', end: TODAY, filters: [], versions: 'full' }],
    ['range=7', { range: 7, start: '2026-11-20', end: TODAY }],
    ['range=365', { range: 365, start: '2025-11-27' }],
    ['range=12', { range: 30 }],
    ['from=2026-01-01&to=2026-01-31', { range: 'custom', start: '2026-01-01', end: '2026-01-31' }],
    ['from=2026-02-01&to=2026-01-31', { range: 30 }],
    ['filter=ci%3Dfalse&filter=pm!%3Dnpm', { filters: [{ field: 'ci', op: '=', value: 'false' }, { field: 'pm', op: '!=', value: 'npm' }] }],
    ['filter=no%20such%3Dx', { filters: [] }], // not a variable's name
    ['filter=python%3D3.12', { filters: [{ field: 'python', op: '=', value: '3.12' }] }], // any variable a route stores
    ['ff=pm&fo=!%3D&fv=yarn', { filters: [{ field: 'pm', op: '!=', value: 'yarn' }] }],
    ['versions=major', { versions: 'major' }],
  ])('%s', (q, expected) => {
    expect(view(q).view).toMatchObject(expected);
  });

  it('viewUrl gives back the same view (a bookmark keeps it)', () => {
    for (const q of ['package=%40s%2Fp&range=7&filter=version%3D%3Cimg%3E&versions=minor', 'from=2026-01-01&to=2026-01-31&filter=ci!%3Dtrue']) {
      const v = view(q).view;
      expect(view(viewUrl(v).slice(2)).view).toEqual(v);
    }
  });
});

it.each([
  ['1.2.3', 'minor', '1.2.x'],
  ['1.2.3', 'major', '1.x'],
  ['v20.11.0', 'major', '20.x'],
  ['<img>', 'major', '<img>'],
  ['1.2.3', 'full', '1.2.3'],
] as const)('groupVersion(%s, %s) = %s', (v, g, out) => expect(groupVersion(v, g)).toBe(out));

describe('numbers and the page', () => {
  // Storage.cube's rows for 2026-11-20..26 (fields summed over the range, `direct` per day), and the month's totals.
  const rows: CubeRow[] = [
    ['2026-11-26', '', '', 2], ['2026-11-20', '', '', 3],
    ['', 'version', '1.2.3', 4], ['', 'version', '<img src=x onerror=alert(1)>', 1],
    ['2026-11-26', 'direct', 'true', 2], ['2026-11-20', 'direct', 'false', 3],
  ];
  const totals: CubeRow[] = [...rows.filter((r) => r[1] === ''), ['2026-10-30', '', '', 5], ['2026-10-27', '', '', 100]];
  it('totals for the last day, week and month; the range; every day of it', () => {
    const v = view('range=7').view;
    const n = numbers(rows, v, TODAY, totals);
    expect([n.lastDay, n.lastWeek, n.lastMonth, n.total, n.daily.length]).toEqual([2, 5, 10, 5, 7]);
    expect(Object.fromEntries(n.counts.get('version')!)).toEqual({ '1.2.3': 4, '<img src=x onerror=alert(1)>': 1 });
    expect(Object.fromEntries(n.counts.get('direct')!)).toEqual({ true: 2, false: 3 });
    expect(Object.fromEntries([...n.perDay.get('direct')!].map(([d, m]) => [d, Object.fromEntries(m)]))).toEqual({ '2026-11-26': { true: 2 }, '2026-11-20': { false: 3 } });
    expect(n.daily.map(([, k]) => k)).toEqual([3, 0, 0, 0, 0, 0, 2]);
  });

  it('renders sender data as text only; the direct chart appears only when the data has the field', () => {
    const v = { ...view('range=7').view, pkg: '"><script>alert(1)</script>' } as View;
    const page = dashboardPage({ fields: [...FIELDS, 'direct'], packages: [['a', 1], [v.pkg!, 1]], view: v, notes: [], today: TODAY, rows }).body;
    expect(page).not.toMatch(/<script|<img|javascript:/i);
    expect(page).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(page).toContain('id="direct-over-time"');
    const without = dashboardPage({ fields: [...FIELDS, 'direct'], packages: [['a', 1]], view: { ...v, pkg: 'a' }, notes: [], today: TODAY, rows: rows.filter((r) => r[1] !== 'direct') }).body;
    expect(without).not.toContain('id="direct-over-time"');
    expect(page).not.toContain('(not sent)');
    // Installs whose event has no {direct} stay visible as "not sent".
    const partly = dashboardPage({ fields: FIELDS, packages: [['a', 1]], view: { ...v, pkg: 'a' }, notes: [], today: TODAY, rows: [...rows, ['2026-11-21', '', '', 4]] }).body;
    expect(partly).toMatch(/<th scope="col">\(not sent\)<\/th>/);
    expect(partly).toContain('<tr><td>2026-11-21</td><td class="num">0</td><td class="num">0</td><td class="num">0</td><td class="num">4</td></tr>');
    // Every field of VARIABLES (but name and event_id) gets its breakdown.
    for (const f of FIELDS) expect(page).toContain(`data-field="${f}"`);
  });

  it('the empty state shows exactly what to put in installBeacon.url; the token page asks for the token', () => {
    const e = emptyPage(['http://127.0.0.1:7708/{name}/{version}']).body;
    expect(e).toContain('"url": "http://127.0.0.1:7708/{name}/{version}"');
    expect(tokenPage().body).toContain('<form method="post" action="/"><label>Read token <input type="password" name="token"');
    expect(tokenPage('wrong').body).toContain('not this collector');
    expect([tokenPage('in-address').status, tokenPage('throttled').status]).toEqual([401, 429]);
  });
});

describe('bounds: what one page renders, whatever senders sent', () => {
  // The worst a sender can make: 366 days, and in every field 1000 distinct 200-character values that
  // escape to the longest markup (each "<" is "&lt;" in text and "%3C" in a link), plus OTHER.
  const K = 1000;
  const junk = (f: string, i: number) => `<${f}${i}`.padEnd(200, '<');
  const v = { ...parseView(new URLSearchParams('from=2025-11-26&to=2026-11-26'), TODAY).view, pkg: 'acme-lib' } as View;
  // Any variable a route stores is a field too: Storage.cube gives at most FIELDS_SHOWN fields, so the worst page has that many, the others of 64-character names.
  const OWN = Array.from({ length: FIELDS_SHOWN - FIELDS.length }, (_, i) => `v${i}`.padEnd(64, '_'));
  const days = Array.from({ length: 366 }, (_, i) => new Date(Date.UTC(2025, 10, 26 + i)).toISOString().slice(0, 10));
  const rows: CubeRow[] = [
    ...days.map((d): CubeRow => [d, '', '', K + 5]),
    ...[...FIELDS.filter((f) => f !== 'direct'), ...OWN].flatMap((f) => [...Array.from({ length: K }, (_, i): CubeRow => ['', f, junk(f, i), K - i]), ['', f, OTHER, 7] as CubeRow]),
    ...days.flatMap((d) => [[d, 'direct', 'true', 2], ...Array.from({ length: 40 }, (_, i): CubeRow => [d, 'direct', junk('direct', i), 1])] as CubeRow[]),
  ];
  const packages = Array.from({ length: PICKER }, (_, i): [string, number] => [`${'<'.repeat(200)}${i}`, 100 - i]);
  const body = dashboardPage({ fields: FIELDS, packages, view: v, notes: [], today: TODAY, rows }).body;
  const tableOf = (field: string) => [...body.matchAll(new RegExp(`data-field="${field}">[\\s\\S]*?</tbody>`, 'g'))][0]![0];

  it(`every field's table, install-beacon's and any other variable's: at most ${TOP} values and "(other values)" holding exactly the rest`, () => {
    for (const f of OWN) expect(body).toContain(`<option value="${f}">`); // a filter of its own
    for (const f of [...FIELDS.filter((x) => x !== 'direct' && x !== 'node' && x !== 'version'), ...OWN]) {
      const t = tableOf(f);
      const trs = [...t.matchAll(/<tr( class="other")?><td>[^<]*<\/td><td class="num">(\d+)<\/td>/g)];
      expect(trs.length, f).toBe(TOP + 1);
      expect(trs.at(-1)![1], f).toBe(' class="other"');
      const all = K * (K + 1) / 2 + 7;
      const shown = trs.slice(0, -1).reduce((a, m) => a + Number(m[2]), 0);
      expect([f, shown, Number(trs.at(-1)![2])]).toEqual([f, Array.from({ length: TOP }, (_, i) => K - i).reduce((a, b) => a + b, 0), all - shown]);
    }
    // The asked-for/pulled-in chart: its three values, and every other one as "(other values)".
    expect([...body.matchAll(/<th scope="col">([^<]*)<\/th>/g)].map((m) => m[1]).filter((x) => x === '(other values)' || x!.startsWith('asked'))).toEqual(['asked for (direct)', '(other values)']);
  });

  it(`the page stays under MAX_PAGE_BYTES (${MAX_PAGE_BYTES}) given ${K} distinct values in every field of FIELDS_SHOWN (${FIELDS_SHOWN})`, () => {
    expect(Buffer.byteLength(body)).toBeLessThan(MAX_PAGE_BYTES);
    expect(Buffer.byteLength(body)).toBeGreaterThan(MAX_PAGE_BYTES / 4); // the worst case is near the bound, not far under it
    expect([...body.matchAll(/<option value="&lt;/g)]).toHaveLength(PICKER);
    expect(body).toContain(`<option value="acme-lib" selected>acme-lib</option>`);
  });

  it('the page shows the package it is given: its name, never a sender-chosen text asked for in ?package=, and a picked package outside the top list is an option of its own', () => {
    const one = dashboardPage({ fields: FIELDS, packages: [['acme-lib', 3], ['! SECURITY NOTICE', 1]], view: { ...v, pkg: 'acme-lib' }, notes: [], today: TODAY, rows: [] }).body;
    expect(one).toContain('<h1>acme-lib</h1>');
    expect(one).toContain('<option value="acme-lib" selected>');
  });
});
