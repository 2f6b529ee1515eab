// The dashboard at GET /: server-rendered HTML and SVG, no script, no external
// request. Pure: the view comes from the query string, the numbers from
// Storage.cube rows, and the page from one escaping template function (`html`),
// so every value a sender chose reaches the page as text and never as markup.
// No link on the page is built from sender data except links back to this page
// whose query string carries it (always "/?..." and URL-encoded).
import { dayNumber, dayString, MAX_DAYS } from './periods.js';
import { FIELD_NAME, OTHER, TOTAL, type CubeRow, type Filter } from './storage/types.js';

// ---- escaping by construction --------------------------------------------

/** Markup this module built; only `html` makes one. */
export class Html {
  private constructor(readonly text: string) {}
  /** @internal the one way to make markup: from the literal parts of an `html` template. */
  static fromTemplate(text: string): Html {
    return new Html(text);
  }
}

type Interpolation = Html | string | number | boolean | null | undefined | readonly Interpolation[];

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };
export const escapeText = (s: string): string => s.replace(/[&<>"'`]/g, (c) => ESCAPES[c]!);

function render(v: Interpolation): string {
  if (v instanceof Html) return v.text;
  if (Array.isArray(v)) return v.map(render).join('');
  if (v === null || v === undefined || v === false || v === true) return '';
  return escapeText(String(v));
}

/** The page's only template function: literal parts are markup, every interpolated value is escaped text (or markup built by `html`). */
export function html(strings: TemplateStringsArray, ...values: Interpolation[]): Html {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]!) + strings[i + 1]!;
  return Html.fromTemplate(out);
}

// ---- the view (what the URL asks for) -------------------------------------

export const PRESETS = [7, 30, 90, 365] as const;
export type VersionGroup = 'full' | 'minor' | 'major';

export interface View {
  pkg: string | undefined;
  /** A preset's number of days, or "custom" with from/to. */
  range: number | 'custom';
  start: string;
  end: string;
  filters: Filter[];
  versions: VersionGroup;
}

/** "ci=false", "pm!=npm" */
export function parseFilter(text: string): Filter | undefined {
  // Any variable a route can store (install-beacon's or another): a filter on one never sent counts nothing.
  const m = /^([^!=]*)(!?=)(.*)$/s.exec(text);
  if (!m || !FIELD_NAME.test(m[1]!)) return undefined;
  return { field: m[1]!, op: m[2] === '=' ? '=' : '!=', value: m[3]! };
}
export const filterText = (f: Filter): string => `${f.field}${f.op}${f.value}`;

/** The view a query string asks for; anything it cannot use falls back to the default (last 30 days). */
export function parseView(q: URLSearchParams, today: string): { view: View; notes: string[] } {
  const notes: string[] = [];
  const t = dayNumber(today)!;
  let range: number | 'custom' = 30;
  let start = dayString(t - 29);
  let end = today;
  const preset = Number(q.get('range'));
  if ((PRESETS as readonly number[]).includes(preset)) {
    range = preset;
    start = dayString(t - preset + 1);
  } else if (q.get('from') || q.get('to')) {
    const a = dayNumber(q.get('from') ?? '');
    const b = dayNumber(q.get('to') ?? '') ?? t;
    if (a === undefined || b < a || b - a + 1 > MAX_DAYS) notes.push(`custom dates need from ≤ to, at most ${MAX_DAYS} days apart (YYYY-MM-DD); showing the last 30 days`);
    else {
      range = 'custom';
      start = dayString(a);
      end = dayString(b);
    }
  }
  const filters: Filter[] = [];
  const add = (text: string) => {
    const f = parseFilter(text);
    if (f) {
      if (!filters.some((g) => filterText(g) === filterText(f))) filters.push(f);
    } else notes.push(`ignored the filter "${text}" (use FIELD=VALUE or FIELD!=VALUE, FIELD a variable's name)`);
  };
  for (const f of q.getAll('filter')) add(f);
  // The filter form's three inputs.
  const ff = q.get('ff');
  if (ff) add(`${ff}${q.get('fo') === '!=' ? '!=' : '='}${q.get('fv') ?? ''}`);
  const v = q.get('versions');
  const versions: VersionGroup = v === 'minor' || v === 'major' ? v : 'full';
  return { view: { pkg: q.get('package') ?? undefined, range, start, end, filters, versions }, notes };
}

/** The canonical address of a view (what a bookmark keeps). */
export function viewUrl(v: View, change: Partial<View> = {}): string {
  const w = { ...v, ...change };
  const q = new URLSearchParams();
  if (w.pkg !== undefined) q.set('package', w.pkg);
  if (w.range === 'custom') {
    q.set('from', w.start);
    q.set('to', w.end);
  } else if (w.range !== 30) q.set('range', String(w.range));
  for (const f of w.filters) q.append('filter', filterText(f));
  if (w.versions !== 'full') q.set('versions', w.versions);
  const s = q.toString();
  return s ? `/?${s}` : '/';
}

// ---- numbers from cube rows ----------------------------------------------

export interface Numbers {
  /** Installs per day over the view's range, every day, zeros included. */
  daily: Array<[string, number]>;
  total: number;
  lastDay: number;
  lastWeek: number;
  lastMonth: number;
  /** field -> value -> installs in the view's range */
  counts: Map<string, Map<string, number>>;
  /** field -> day -> value -> installs (for the over-time charts of a field) */
  perDay: Map<string, Map<string, Map<string, number>>>;
}

/** Fields the page draws over time (the others are summed over the range): Storage.cube's `series`. */
export const SERIES = ['direct'] as const;

/**
 * The page's numbers from Storage.cube rows of the view's range; `totals` (TOTAL rows covering the
 * last 30 days) when that range does not cover them.
 */
export function numbers(rows: readonly CubeRow[], view: View, today: string, totals: readonly CubeRow[] = rows): Numbers {
  const t = dayNumber(today)!;
  const since = (n: number) => dayString(t - n + 1);
  const byDay = new Map<string, number>();
  const counts = new Map<string, Map<string, number>>();
  const perDay = new Map<string, Map<string, Map<string, number>>>();
  let lastDay = 0, lastWeek = 0, lastMonth = 0;
  for (const [day, field, value, n] of totals) {
    if (field !== TOTAL || value !== TOTAL || day > today) continue;
    if (day >= since(1)) lastDay += n;
    if (day >= since(7)) lastWeek += n;
    if (day >= since(30)) lastMonth += n;
  }
  for (const [day, field, value, n] of rows) {
    if (field === TOTAL && value === TOTAL) {
      byDay.set(day, (byDay.get(day) ?? 0) + n);
      continue;
    }
    const c = counts.get(field) ?? counts.set(field, new Map()).get(field)!;
    c.set(value, (c.get(value) ?? 0) + n);
    if (day === '') continue;
    const f = perDay.get(field) ?? perDay.set(field, new Map()).get(field)!;
    const d = f.get(day) ?? f.set(day, new Map()).get(day)!;
    d.set(value, (d.get(value) ?? 0) + n);
  }
  const daily: Array<[string, number]> = [];
  for (let n = dayNumber(view.start)!, e = dayNumber(view.end)!; n <= e; n++) {
    const d = dayString(n);
    daily.push([d, byDay.get(d) ?? 0]);
  }
  return { daily, total: daily.reduce((a, [, n]) => a + n, 0), lastDay, lastWeek, lastMonth, counts, perDay };
}

/** "1.2.3" -> "1.2" (minor) or "1" (major); anything else stays as it is. */
export function groupVersion(v: string, g: VersionGroup): string {
  if (g === 'full') return v;
  const m = /^v?(\d+)(?:\.(\d+))?/.exec(v);
  if (!m) return v;
  return g === 'major' ? `${m[1]}.x` : m[2] === undefined ? v : `${m[1]}.${m[2]}.x`;
}

export function regroup(counts: ReadonlyMap<string, number>, key: (v: string) => string): Map<string, number> {
  const out = new Map<string, number>();
  for (const [v, n] of counts) out.set(key(v), (out.get(key(v)) ?? 0) + n);
  return out;
}

/** Most installs first; OTHER (the values past a bound, summed) always last. */
const sorted = (m: ReadonlyMap<string, number>): Array<[string, number]> => [...m].sort((a, b) => Number(a[0] === OTHER) - Number(b[0] === OTHER) || b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
/** The TOP values with most installs and one OTHER entry for the rest (what the page draws of any field). */
export function capped(entries: ReadonlyArray<[string, number]>): Array<[string, number]> {
  const head = entries.filter(([v]) => v !== OTHER).slice(0, TOP);
  const rest = entries.reduce((a, [, n]) => a + n, 0) - head.reduce((a, [, n]) => a + n, 0);
  return rest > 0 ? [...head, [OTHER, rest]] : head;
}
const label = (v: string): string => (v === OTHER ? '(other values)' : v === '' ? '(empty)' : v);

// ---- bounds: what one page renders, whatever senders sent --------------------

/**
 * Per field, the page gets the TOP values with most installs in the view (Storage.cube's `top`) and
 * one "(other values)" row for the rest; the package picker lists the PICKER packages with most
 * installs. With the 366 days a view spans at most, that bounds the page: MAX_PAGE_BYTES is checked
 * by test/dashboard.test.ts with TOP distinct 200-character values in every field.
 */
export const TOP = 20;
export const PICKER = 20;
/** At most this many fields (install-beacon's and others, most installs first) reach the page: Storage.cube's `fields`. */
export const FIELDS_SHOWN = 24;
export const MAX_PAGE_BYTES = 1_500_000;
/** The asked-for/pulled-in chart draws these values; any other counts as "(other values)". */
const DIRECT_VALUES = ['true', 'false', 'unknown'];

// ---- charts (SVG) ----------------------------------------------------------

const PALETTE = ['#2563eb', '#f59e0b', '#10b981', '#ef4444', '#8b5cf6', '#6b7280'];

function dailyChart(daily: ReadonlyArray<[string, number]>, label: string): Html {
  const W = 760, H = 200, L = 44, B = 22, T = 8;
  const max = Math.max(1, ...daily.map(([, n]) => n));
  const w = (W - L) / Math.max(1, daily.length);
  const y = (n: number) => T + (H - B - T) * (1 - n / max);
  const ticks = [0, Math.round(max / 2), max];
  const xl = daily.length > 0 ? [daily[0]![0], daily[Math.floor((daily.length - 1) / 2)]![0], daily[daily.length - 1]![0]] : [];
  return html`<svg class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-label="${label}">
${ticks.map((t) => html`<line x1="${L}" x2="${W}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="#e5e7eb"/><text x="${L - 6}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end" class="axis">${t}</text>`)}
${daily.map(([d, n], i) => html`<rect x="${(L + i * w + w * 0.1).toFixed(2)}" y="${y(n).toFixed(1)}" width="${Math.max(0.5, w * 0.8).toFixed(2)}" height="${(H - B - y(n)).toFixed(1)}" fill="${PALETTE[0]}"><title>${d}: ${n}</title></rect>`)}
${xl.map((d, i) => html`<text x="${i === 0 ? L : i === 1 ? (L + W) / 2 : W}" y="${H - 6}" text-anchor="${i === 0 ? 'start' : i === 1 ? 'middle' : 'end'}" class="axis">${d}</text>`)}
</svg>`;
}

function stackedChart(days: readonly string[], perDay: ReadonlyMap<string, ReadonlyMap<string, number>>, order: readonly string[], label: string): Html {
  const W = 760, H = 200, L = 44, B = 22, T = 8;
  const totals = days.map((d) => order.reduce((a, v) => a + (perDay.get(d)?.get(v) ?? 0), 0));
  const max = Math.max(1, ...totals);
  const w = (W - L) / Math.max(1, days.length);
  const h = (n: number) => (H - B - T) * (n / max);
  return html`<svg class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-label="${label}">
<line x1="${L}" x2="${W}" y1="${H - B}" y2="${H - B}" stroke="#e5e7eb"/><line x1="${L}" x2="${W}" y1="${T}" y2="${T}" stroke="#e5e7eb"/>
<text x="${L - 6}" y="${H - B + 4}" text-anchor="end" class="axis">0</text><text x="${L - 6}" y="${T + 4}" text-anchor="end" class="axis">${max}</text>
${days.map((d, i) => {
  let base = H - B;
  return order.map((v, k) => {
    const n = perDay.get(d)?.get(v) ?? 0;
    if (n === 0) return '';
    base -= h(n);
    return html`<rect x="${(L + i * w + w * 0.1).toFixed(2)}" y="${base.toFixed(1)}" width="${Math.max(0.5, w * 0.8).toFixed(2)}" height="${h(n).toFixed(1)}" fill="${v.startsWith('\u0000') ? PALETTE[5] : PALETTE[k % PALETTE.length]}"><title>${d} ${v.replace('\u0000', '')}: ${n}</title></rect>`;
  });
})}
${days.length > 0 ? html`<text x="${L}" y="${H - 6}" class="axis">${days[0]}</text><text x="${W}" y="${H - 6}" text-anchor="end" class="axis">${days[days.length - 1]}</text>` : ''}
</svg>`;
}

const BARS = 8;

function barChart(entries: ReadonlyArray<[string, number]>, title: string): Html {
  const shown: Array<[string, number]> = entries.slice(0, BARS).map(([v, n]) => [label(v), n]);
  if (entries.length > BARS) shown.push([`${entries.length - BARS} more`, entries.slice(BARS).reduce((a, [, n]) => a + n, 0)]);
  const W = 360, row = 22, L = 130;
  const max = Math.max(1, ...shown.map(([, n]) => n));
  const cut = (s: string) => (s.length > 20 ? `${s.slice(0, 19)}…` : s);
  return html`<svg class="bars" viewBox="0 0 ${W} ${shown.length * row + 4}" role="img" aria-label="${title}">
${shown.map(([v, n], i) => html`<text x="${L - 6}" y="${i * row + 15}" text-anchor="end" class="axis">${cut(v)}</text><rect x="${L}" y="${i * row + 4}" width="${(((W - L - 50) * n) / max).toFixed(1)}" height="${row - 8}" fill="${PALETTE[0]}"><title>${v}: ${n}</title></rect><text x="${(L + ((W - L - 50) * n) / max + 4).toFixed(1)}" y="${i * row + 15}" class="axis">${n}</text>`)}
</svg>`;
}

// ---- the page --------------------------------------------------------------

/** Breakdown sections in the order an author reads them; fields of VARIABLES not named here get a section of their own. */
const SECTIONS: ReadonlyArray<{ title: string; fields: readonly string[] }> = [
  { title: 'Version', fields: ['version'] },
  { title: 'Platform and arch', fields: ['platform', 'arch'] },
  { title: 'Package manager and its version', fields: ['pm', 'pm_version'] },
  { title: 'CI, and which', fields: ['ci', 'ci_name'] },
  { title: 'Container, and which', fields: ['container'] },
  { title: 'Node.js major', fields: ['node'] },
  { title: 'libc', fields: ['libc', 'libc_version'] },
  { title: 'Install kind', fields: ['install'] },
  { title: 'Trigger (runtime: the install scripts were blocked)', fields: ['trigger'] },
  { title: 'Asked for or pulled in', fields: ['direct'] },
];

export interface Page {
  status: number;
  body: string;
}

export interface DashboardInput {
  fields: readonly string[];
  /** The picker's packages: at most PICKER, with installs, most first (Storage.topPackages). */
  packages: ReadonlyArray<readonly [string, number]>;
  view: View;
  notes: readonly string[];
  today: string;
  rows: readonly CubeRow[];
  /** TOTAL rows of the last 30 days, when `rows` (the view's range) does not cover them. */
  totals?: readonly CubeRow[];
  /** Show the sign-out button (the dashboard is behind the token). */
  signOut?: boolean;
}

function layout(title: string, body: Html): string {
  return '<!doctype html>\n' + html`<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="referrer" content="no-referrer"><title>${title}</title><link rel="stylesheet" href="/dashboard.css"><link rel="icon" href="/favicon.svg"></head><body>${body}</body></html>`.text + '\n';
}

export function emptyPage(routes: readonly string[]): Page {
  return {
    status: 200,
    body: layout(
      'install-beacon-collector: no installs yet',
      html`<main class="empty"><h1>No installs counted yet</h1>
<p>This collector has not stored any event. To start receiving them, put this in the <code>package.json</code> of the package whose installs you want to count (it depends on <code>install-beacon</code>):</p>
${routes.map((r) => html`<pre class="copy">"installBeacon": {
  "url": "${r}"
}</pre>`)}
<p>Then install the package from another folder or machine (<code>npm install your-package</code>); the install appears here as soon as the collector has stored it. Installs from a host other than this one need <code>https://</code> (run the collector with <code>--tls-cert</code>/<code>--tls-key</code> or behind a proxy that terminates TLS).</p></main>`,
    ),
  };
}

/** Why the token page is shown again: a wrong token, a token in the address (refused: it ends up in logs), or too many wrong tokens. */
export type TokenProblem = 'wrong' | 'in-address' | 'throttled';
const TOKEN_PROBLEMS: Record<TokenProblem, [number, string]> = {
  wrong: [401, "That token is not this collector's read token."],
  'in-address': [401, 'A token in the address is not accepted (it ends up in proxy logs and browser history): enter it here.'],
  throttled: [429, 'Too many wrong tokens from this address: try again in a minute.'],
};

/** `keep`: the rest of the address asked for, carried through the form (the token is not in it). The form POSTs: the token never appears in an address. */
export function tokenPage(problem?: TokenProblem, keep: URLSearchParams = new URLSearchParams()): Page {
  const [status, note] = problem ? TOKEN_PROBLEMS[problem] : [401, ''];
  return {
    status,
    body: layout(
      'install-beacon-collector: read token needed',
      html`<main class="empty"><h1>Read token needed</h1>
${note ? html`<p class="note">${note}</p>` : ''}
<p>This dashboard is private. Enter the collector's read token (<code>INSTALL_BEACON_TOKEN</code>, or the one printed by the start that generated it; <code>install-beacon-collector token</code> prints it again):</p>
<form method="post" action="/"><label>Read token <input type="password" name="token" autocomplete="current-password" required></label>${[...keep].map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`)} <button type="submit">Sign in</button></form></main>`,
    ),
  };
}

function table(field: string, entries: ReadonlyArray<[string, number]>, view: View, filterable: boolean): Html {
  return html`<details><summary>Table (${entries.length} ${entries.length === 1 ? 'value' : 'values'})</summary><table><thead><tr><th scope="col">${field}</th><th scope="col">installs</th>${filterable ? html`<th scope="col">filter</th>` : ''}</tr></thead><tbody>
${entries.map(([v, n]) => v === OTHER ? html`<tr class="other"><td>${label(v)}</td><td class="num">${n}</td>${filterable ? html`<td></td>` : ''}</tr>` : html`<tr><td>${v}</td><td class="num">${n}</td>${filterable ? html`<td><a href="${viewUrl(view, { filters: [...view.filters, { field, op: '=', value: v }] })}">only</a> · <a href="${viewUrl(view, { filters: [...view.filters, { field, op: '!=', value: v }] })}">not</a></td>` : ''}</tr>`)}
</tbody></table></details>`;
}

export function dashboardPage(d: DashboardInput): Page {
  const { view } = d;
  const num = numbers(d.rows, view, d.today, d.totals);
  const pkg = view.pkg!;
  const rangeLabel = view.range === 'custom' ? `${view.start} to ${view.end}` : `last ${view.range} days`;

  const fieldChart = (field: string): Html => {
    const raw = num.counts.get(field);
    if (!raw || raw.size === 0) return html`<div class="field" data-field="${field}"><h3>${field}</h3><p class="muted">No values in this range (the route may not send <code>{${field}}</code>).</p></div>`;
    let m: ReadonlyMap<string, number> = raw;
    let shownAs = field;
    let filterable = true;
    if (field === 'version' && view.versions !== 'full') {
      m = regroup(raw, (v) => groupVersion(v, view.versions));
      shownAs = `version (${view.versions})`;
      filterable = false;
    }
    if (field === 'node') {
      m = regroup(raw, (v) => groupVersion(v, 'major'));
      shownAs = 'node (major)';
      filterable = false;
    }
    const entries = capped(sorted(m));
    return html`<div class="field" data-field="${field}"><h3>${shownAs}</h3>
${field === 'version' ? html`<p class="group">Group by: ${(['full', 'minor', 'major'] as const).map((g) => (g === view.versions ? html`<strong>${g}</strong> ` : html`<a href="${viewUrl(view, { versions: g })}">${g}</a> `))}</p>` : ''}
${barChart(entries, `installs by ${shownAs}`)}
${table(shownAs, entries, view, filterable)}</div>`;
  };

  // install-beacon's fields, then every other variable the rows hold (Storage.cube bounds them to FIELDS_SHOWN), by name.
  const fields = [...d.fields, ...[...num.counts.keys()].filter((f) => !d.fields.includes(f)).sort()];
  const named = new Set(SECTIONS.flatMap((s) => s.fields));
  const sections = [
    ...SECTIONS.map((s) => ({ title: s.title, fields: s.fields.filter((f) => fields.includes(f)) })),
    ...fields.filter((f) => !named.has(f)).map((f) => ({ title: f, fields: [f] })),
  ].filter((s) => s.fields.length > 0);

  // Issue 14: installs the author's users asked for (a direct dependency) vs pulled in (transitive), over time.
  const sentDirect = num.perDay.get('direct');
  const dayList = num.daily.map(([day]) => day);
  // Installs whose event has no {direct} (an older hook, or a route without it) stay visible as "not sent".
  const NOT_SENT = '\u0000not sent';
  const direct = sentDirect && new Map(num.daily.map(([day, total]) => {
    const m = new Map(sentDirect.get(day) ?? []);
    const missing = total - [...m.values()].reduce((a, b) => a + b, 0);
    if (missing > 0) m.set(NOT_SENT, missing);
    return [day, m];
  }));
  const anyMissing = direct !== undefined && [...direct.values()].some((m) => m.has(NOT_SENT));
  // Values other than these three (senders choose them) are drawn as one: "(other values)".
  if (direct) for (const m of direct.values()) for (const [v, n] of [...m]) if (v !== NOT_SENT && v !== OTHER && !DIRECT_VALUES.includes(v)) m.delete(v), m.set(OTHER, (m.get(OTHER) ?? 0) + n);
  const anyOther = direct !== undefined && [...direct.values()].some((m) => m.has(OTHER));
  const directOrder = direct ? [...DIRECT_VALUES, ...(anyOther ? [OTHER] : []), ...(anyMissing ? [NOT_SENT] : [])] : [];
  const directLabels: Record<string, string> = { true: 'asked for (direct)', false: 'pulled in (transitive)', unknown: 'unknown', [OTHER]: label(OTHER), [NOT_SENT]: '(not sent)' };
  const directSection = direct
    ? html`<section id="direct-over-time"><h2>Asked for vs pulled in, over time</h2>
<p class="legend">${directOrder.map((v, k) => html`<span class="swatch swatch-${v === NOT_SENT ? 5 : k % PALETTE.length}"></span> ${directLabels[v] ?? v} `)}</p>
${stackedChart(dayList, direct, directOrder, 'installs per day, asked for vs pulled in')}
<details><summary>Table</summary><table><thead><tr><th scope="col">day</th>${directOrder.map((v) => html`<th scope="col">${directLabels[v] ?? v}</th>`)}</tr></thead><tbody>
${dayList.map((day) => html`<tr><td>${day}</td>${directOrder.map((v) => html`<td class="num">${direct.get(day)?.get(v) ?? 0}</td>`)}</tr>`)}
</tbody></table></details></section>`
    : '';

  const hidden = (except: 'range' | 'filter' | 'package') =>
    html`${except !== 'package' ? html`<input type="hidden" name="package" value="${pkg}">` : ''}${view.range === 'custom' && except !== 'range' ? html`<input type="hidden" name="from" value="${view.start}"><input type="hidden" name="to" value="${view.end}">` : view.range !== 30 && except !== 'range' ? html`<input type="hidden" name="range" value="${view.range}">` : ''}${view.filters.map((f) => html`<input type="hidden" name="filter" value="${filterText(f)}">`)}${view.versions !== 'full' ? html`<input type="hidden" name="versions" value="${view.versions}">` : ''}`;

  const body = html`<header><h1>${pkg}</h1>
${d.packages.length > 1 || (d.packages.length === 1 && d.packages[0]![0] !== pkg) ? html`<form method="get" action="/" class="picker"><label>Package <select name="package">${d.packages.some(([p]) => p === pkg) ? '' : html`<option value="${pkg}" selected>${pkg}</option>`}${d.packages.map(([p]) => html`<option value="${p}"${p === pkg ? html` selected` : ''}>${p}</option>`)}</select></label>${hidden('package')}<button type="submit">Show</button></form>
<form method="get" action="/" class="goto"><label>or another <input name="package" aria-label="package name" placeholder="package name" required></label>${hidden('package')}<button type="submit">Show</button></form>` : ''}
${d.signOut ? html`<form method="post" action="/sign-out" class="sign-out"><button type="submit">Sign out</button></form>` : ''}
</header>
<main>
${d.notes.map((n) => html`<p class="note">${n}</p>`)}
<section id="totals" class="totals"><div><span class="big" data-total="last-day">${num.lastDay}</span> last day</div><div><span class="big" data-total="last-week">${num.lastWeek}</span> last week</div><div><span class="big" data-total="last-month">${num.lastMonth}</span> last month</div></section>
<section id="controls">
<p class="presets">Range: ${PRESETS.map((p) => (view.range === p ? html`<strong>${p} days</strong> ` : html`<a href="${viewUrl(view, { range: p, start: '', end: '' })}">${p} days</a> `))}</p>
<form method="get" action="/" class="custom"><label>From <input type="date" name="from" value="${view.start}"></label> <label>to <input type="date" name="to" value="${view.end}"></label>${hidden('range')}<button type="submit">Apply</button></form>
<form method="get" action="/" class="filter"><label>Filter <select name="ff">${fields.map((f) => html`<option value="${f}">${f}</option>`)}</select></label> <select name="fo" aria-label="operator"><option value="=">=</option><option value="!=">≠</option></select> <input name="fv" aria-label="value" placeholder="value, e.g. false"> ${hidden('filter')}<button type="submit">Add filter</button></form>
${view.filters.length > 0 ? html`<p class="filters">Every chart counts only installs where ${view.filters.map((f, i) => html`<span class="chip"><code>${f.field} ${f.op === '=' ? '=' : '≠'} ${f.value === '' ? '(empty)' : f.value}</code> <a href="${viewUrl(view, { filters: view.filters.filter((_, j) => j !== i) })}" aria-label="remove this filter">×</a></span> `)} <a href="${viewUrl(view, { filters: [] })}">clear</a>. Filtered counts come from the daily combination table, which outlives the raw events.</p>` : ''}
</section>
<section id="daily"><h2>Installs per day, ${rangeLabel}: <span data-total="range">${num.total}</span></h2>
${dailyChart(num.daily, `installs per day, ${rangeLabel}`)}
<details><summary>Table</summary><table><thead><tr><th scope="col">day</th><th scope="col">installs</th></tr></thead><tbody>
${num.daily.map(([day, n]) => html`<tr><td>${day}</td><td class="num">${n}</td></tr>`)}
</tbody></table></details></section>
${directSection}
${sections.map((s) => html`<section class="breakdown"><h2>${s.title}</h2><div class="fields">${s.fields.map(fieldChart)}</div></section>`)}
</main>
<footer>install-beacon-collector · the same numbers: <code>/api/downloads/range/${view.start}:${view.end}/${pkg}</code>, <code>/api/breakdown/FIELD/${view.start}:${view.end}/${pkg}</code></footer>`;
  return { status: 200, body: layout(`${pkg}: installs`, body) };
}

export const CSS = `*{box-sizing:border-box}body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#111827;background:#f9fafb}
header{display:flex;align-items:center;gap:1.5rem;flex-wrap:wrap;padding:.8rem 1.5rem;background:#fff;border-bottom:1px solid #e5e7eb}h1{font-size:1.3rem;margin:0;word-break:break-all}
main{padding:1rem 1.5rem;max-width:1200px}section{background:#fff;border:1px solid #e5e7eb;border-radius:6px;padding:.8rem 1rem;margin:0 0 1rem}h2{font-size:1.05rem;margin:.1rem 0 .6rem}h3{font-size:.95rem;margin:.2rem 0}
.totals{display:flex;gap:2.5rem}.big{font-size:1.6rem;font-weight:600;margin-right:.3rem}.chart{width:100%;height:auto;max-height:240px}.bars{width:100%;max-width:420px;height:auto}
.axis{font-size:11px;fill:#4b5563}.fields{display:flex;flex-wrap:wrap;gap:2rem}.field{flex:1 1 360px;min-width:0}.muted{color:#6b7280}.note{background:#fef3c7;padding:.4rem .6rem;border-radius:4px}
form{display:inline-block;margin:.2rem 1rem .2rem 0}.presets{margin:.2rem 0}.presets a,.presets strong{margin-right:.6rem}tr.other td{color:#6b7280;font-style:italic}.chip{background:#eef2ff;border-radius:4px;padding:.1rem .4rem;margin-right:.3rem}
table{border-collapse:collapse;margin:.4rem 0;font-variant-numeric:tabular-nums}td,th{border-bottom:1px solid #e5e7eb;padding:.15rem .6rem;text-align:left;word-break:break-all}td.num{text-align:right}
summary{cursor:pointer;color:#374151}pre.copy{background:#111827;color:#f9fafb;padding:.8rem;border-radius:6px;overflow:auto}.empty{max-width:760px}
.swatch{display:inline-block;width:.8rem;height:.8rem;vertical-align:middle}${PALETTE.map((c, i) => `.swatch-${i}{background:${c}}`).join('')}
footer{padding:1rem 1.5rem;color:#6b7280;word-break:break-all}
`;

export const FAVICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect x="1" y="9" width="3" height="6" fill="#2563eb"/><rect x="6" y="5" width="3" height="10" fill="#2563eb"/><rect x="11" y="1" width="3" height="14" fill="#2563eb"/></svg>`;

/** The Content-Security-Policy of every dashboard page: nothing but this origin's stylesheet, no script at all. */
export const CSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
