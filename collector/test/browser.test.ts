/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
import Database from 'better-sqlite3';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseEnv, TempDirs } from '../../test/support/process.js';
import { killAll, startBin, type Proc } from './support/bin.js';
import { request } from './support/http.js';

// The dashboard in a real browser (the system's Chromium driven by playwright-core),
// on the built collector as a real process, filled by real ingest GETs, plus rows
// written straight into its database as an older or newer version might have.
// SCREENSHOTS=DIR saves the pictures the READMEs show (npm run screenshots).

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const SCREENSHOTS = process.env.SCREENSHOTS;
const TOKEN = 'browser-token-0123456789abcdef';
const auth = { authorization: `Bearer ${TOKEN}` };
const temps = new TempDirs();
const today = () => new Date().toISOString().slice(0, 10);
const daysAgo = (n: number) => new Date(Date.now() - n * 86_400_000).toISOString().slice(0, 10);

const HOSTILE_VERSION = '<img src=x onerror=alert(1)>';
const HOSTILE_NAME = '"><script>alert(1)</script>';

interface Sent { version: string; platform: string; arch: string; ci: string; ci_name: string; pm: string; pm_version: string; node: string; container: string; libc: string; libc_version: string; install: string; direct: string; trigger: string }

// Deterministic, varied events for one package.
function events(n: number): Sent[] {
  const pick = <T>(xs: readonly T[], i: number, k: number): T => xs[(i * k + (i >> 2)) % xs.length]!;
  return Array.from({ length: n }, (_, i) => {
    const ci = pick(['true', 'false', 'false'], i, 7);
    return {
      version: pick(['1.0.0', '1.1.0', '1.1.2', '2.0.0', '2.0.1'], i, 3),
      platform: pick(['linux', 'darwin', 'win32'], i, 5),
      arch: pick(['x64', 'arm64'], i, 3),
      ci,
      ci_name: ci === 'true' ? pick(['github-actions', 'gitlab'], i, 1) : 'none',
      pm: pick(['npm', 'pnpm', 'yarn', 'bun'], i, 1),
      pm_version: pick(['10.9.0', '9.15.0', '4.5.0'], i, 11),
      node: pick(['20.11.0', '22.3.0', '24.0.1'], i, 13),
      container: pick(['none', 'none', 'docker'], i, 17),
      libc: pick(['glibc', 'musl'], i, 19),
      libc_version: pick(['2.36', '2.39', '1.2.5'], i, 19),
      direct: ['true', 'true', 'false', 'unknown', 'false'][(i * 7) % 5]!,
      install: pick(['local', 'local', 'global'], i, 23),
      trigger: pick(['postinstall', 'postinstall', 'runtime'], i, 29),
    };
  });
}

afterAll(() => {
  killAll();
  temps.cleanup();
});

describe('the dashboard in Chromium', () => {
  let c: Proc;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let db: string;
  const sent = events(60);
  // Earlier days, written straight into the database (ingest stamps the receipt time: it cannot backdate).
  const past = events(240).map((e, i) => ({ ...e, ago: 1 + Math.floor(28.99 * (((i * 37) % 240) / 240) ** 1.5) }));
  const month = [...sent, ...past];
  const problems: string[] = [];
  const api = async (path: string) => JSON.parse((await request(c.url, path, { headers: auth })).body);

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`Chromium is needed at ${CHROMIUM} (apt-get install -y chromium; .ci/run installs it)`);
    const dir = temps.make('ibc-browser-');
    db = join(dir, 'events.db');
    c = await startBin(['--port', '0', '--db', db], baseEnv(temps.make('ibc-home-'), { INSTALL_BEACON_TOKEN: TOKEN, DATABASE_URL: undefined }));
    // Real ingests: HTTP GETs on the default route.
    for (const [i, e] of sent.entries()) {
      const { version, platform, arch, ...query } = e;
      const q = new URLSearchParams({ ...query, event_id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}` });
      const r = await request(c.url, `/acme-lib/${encodeURIComponent(version)}/${platform}/${arch}?${q}`);
      expect(r.status).toBe(200);
    }
    const hostile = await request(c.url, `/acme-lib/${encodeURIComponent(HOSTILE_VERSION)}/linux/x64?ci=false&pm=${encodeURIComponent('javascript:alert(1)')}&ci_name=${encodeURIComponent('"><svg onload=alert(1)>')}&utm_source=${encodeURIComponent('<b onmouseover=alert(6)>x</b>')}`);
    expect(hostile.status).toBe(200);
    // Rows as an older version (or one with more variables, like {direct}) might have written them.
    const raw = new Database(db);
    const bump = raw.prepare('INSERT INTO daily (package, day, field, value, count) VALUES (?, ?, ?, ?, ?) ON CONFLICT (package, field, day, value) DO UPDATE SET count = count + excluded.count');
    raw.transaction(() => {
      for (const [day, n] of [[today(), 3], [daysAgo(2), 2]] as const) {
        bump.run(HOSTILE_NAME, day, '', '', n);
        bump.run(HOSTILE_NAME, day, 'version', 'javascript:alert(document.cookie)', n);
        bump.run(HOSTILE_NAME, day, 'platform', '<img src=x onerror=alert(2)>', n);
        bump.run(HOSTILE_NAME, day, 'direct', '"><iframe src=javascript:alert(3)>', 1);
        bump.run(HOSTILE_NAME, day, 'direct', 'true', n - 1);
      }
      const insert = raw.prepare('INSERT INTO events (event_id, package, received_at, vars) VALUES (?, ?, ?, ?)');
      // The filtered views' source: the daily combination table, written with the events.
      const combo = raw.prepare('INSERT INTO combos (package, day, vars, count) VALUES (?, ?, ?, 1) ON CONFLICT (package, day, vars) DO UPDATE SET count = count + 1');
      for (const [i, { ago, ...vars }] of past.entries()) {
        const at = Date.now() - ago * 86_400_000;
        const day = new Date(at).toISOString().slice(0, 10);
        insert.run(`past-${i}`, 'acme-lib', at, JSON.stringify(vars));
        combo.run('acme-lib', day, JSON.stringify(vars));
        bump.run('acme-lib', day, '', '', 1);
        for (const [field, value] of Object.entries(vars)) bump.run('acme-lib', day, field, value, 1);
      }
      const oldVars = JSON.stringify({ version: 'javascript:alert(4)', platform: '</title><script>alert(5)</script>' });
      insert.run('old-1', HOSTILE_NAME, Date.now(), oldVars);
      combo.run(HOSTILE_NAME, new Date().toISOString().slice(0, 10), oldVars);
    })();
    raw.close();

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
    });
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    const origin = new URL(c.url).origin;
    page.on('dialog', (d) => {
      problems.push(`dialog: ${d.message()}`);
      void d.dismiss();
    });
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('request', (r) => {
      if (new URL(r.url()).origin !== origin) problems.push(`request off the collector: ${r.url()}`);
    });
    if (SCREENSHOTS) mkdirSync(SCREENSHOTS, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    await c?.stop();
  });

  /** The numbers a chart's table shows: value -> installs. */
  const table = (field: string) =>
    page.$$eval(`[data-field="${field}"] tbody tr`, (rows) => Object.fromEntries(rows.map((r) => [r.children[0]!.textContent, Number(r.children[1]!.textContent)])));
  const total = async (which: string) => Number(await page.textContent(`[data-total="${which}"]`));
  const shot = async (name: string) => {
    if (SCREENSHOTS) await page.screenshot({ path: join(SCREENSHOTS, name), fullPage: name.includes('full') });
  };

  it('without the token: a plain page asking for it; the token once sets an HttpOnly session cookie and leaves the address bar', async () => {
    const first = await page.goto(`${c.url}/?package=acme-lib`);
    expect(first!.status()).toBe(401);
    expect(await page.textContent('h1')).toBe('Read token needed');
    await page.fill('input[name=token]', 'not-the-token-0123456789');
    await Promise.all([page.waitForLoadState('load'), page.click('button[type=submit]')]);
    expect(await page.textContent('.note')).toContain('not this collector');
    await page.fill('input[name=token]', TOKEN);
    await Promise.all([page.waitForURL((u) => u.pathname === '/' && !u.search.includes('token')), page.click('button[type=submit]')]);
    expect(page.url()).toBe(`${c.url}/?package=acme-lib`);
    expect(await page.textContent('h1')).toBe('acme-lib');
    const cookies = await context.cookies();
    expect(cookies.map((k) => [k.name, k.httpOnly, k.sameSite, k.value.includes(TOKEN)])).toEqual([['ibc_session', true, 'Strict', false]]);
    expect(await page.evaluate(() => document.cookie)).toBe('');
    // A token in the address opens nothing (it would land in access logs), and the session still holds.
    const inAddress = await (await browser.newContext()).newPage();
    expect((await inAddress.goto(`${c.url}/?token=${TOKEN}&range=7&package=acme-lib`))!.status()).toBe(401);
    await inAddress.context().close();
    // The token page answers 401 on purpose, which Chromium logs; nothing else may have gone wrong.
    expect(problems.filter((p) => !p.includes('status of 401'))).toEqual([]);
    problems.length = 0;
  });

  it('the numbers on the page equal the read API for the same query; the range presets, custom dates and a filter change every chart and stay in the URL', async () => {
    await page.goto(`${c.url}/?package=acme-lib`);
    await shot('dashboard.png');
    if (SCREENSHOTS) await page.locator('#direct-over-time').screenshot({ path: join(SCREENSHOTS, 'dashboard-direct.png') });
    // The asked-for/pulled-in chart's numbers: per day, from what was written.
    const directRows = await page.$$eval('#direct-over-time tbody tr', (rows) => rows.map((r) => [...r.children].map((td) => td.textContent)));
    expect(directRows).toHaveLength(30);
    const agoOf = (day: string) => Math.round((Date.parse(today()) - Date.parse(day)) / 86_400_000);
    for (const [day, t, f, u] of directRows) {
      const on = [...sent.map((e) => ({ ...e, ago: 0 })), ...past].filter((e) => e.ago === agoOf(day!));
      expect([day, Number(t), Number(f), Number(u)]).toEqual([day, ...['true', 'false', 'unknown'].map((v) => on.filter((e) => e.direct === v).length)]);
    }
    // The one ingested event without {direct} (the hostile one) is shown as "not sent", today.
    expect(await page.$$eval('#direct-over-time th', (t) => t.map((x) => x.textContent))).toEqual(['day', 'asked for (direct)', 'pulled in (transitive)', 'unknown', '(not sent)']);
    expect(directRows.map((r) => r[4])).toEqual([...Array(29).fill('0'), '1']);
    const last30 = `${daysAgo(29)}:${today()}`;
    expect(await total('range')).toBe((await api(`/api/downloads/point/${last30}/acme-lib`)).downloads);
    expect(await total('range')).toBe(month.length + 1);
    expect(await total('last-day')).toBe((await api('/api/downloads/point/last-day/acme-lib')).downloads);
    expect(await total('last-week')).toBe((await api('/api/downloads/point/last-week/acme-lib')).downloads);
    expect(await total('last-month')).toBe((await api('/api/downloads/point/last-month/acme-lib')).downloads);
    const perDay = await page.$$eval('#daily tbody tr', (rows) => rows.map((r) => ({ day: r.children[0]!.textContent, downloads: Number(r.children[1]!.textContent) })));
    expect(perDay).toEqual((await api(`/api/downloads/range/${last30}/acme-lib`)).downloads);
    for (const field of ['version', 'platform', 'arch', 'pm', 'pm_version', 'ci', 'ci_name', 'container', 'libc', 'libc_version', 'install', 'direct', 'trigger']) {
      expect([field, await table(field)]).toEqual([field, (await api(`/api/breakdown/${field}/${last30}/acme-lib`)).counts]);
    }

    await Promise.all([page.waitForURL(/range=7/), page.click('.presets a:text-is("7 days")')]);
    expect(await total('range')).toBe((await api('/api/downloads/point/last-week/acme-lib')).downloads);
    expect(await page.$$eval('#daily tbody tr', (r) => r.length)).toBe(7);
    expect(await table('platform')).toEqual((await api('/api/breakdown/platform/last-week/acme-lib')).counts);

    await page.fill('input[name=from]', daysAgo(3));
    await page.fill('input[name=to]', today());
    await Promise.all([page.waitForURL(/from=/), page.click('form.custom button')]);
    expect(new URL(page.url()).searchParams.get('from')).toBe(daysAgo(3));
    expect(await page.$$eval('#daily tbody tr', (r) => r.length)).toBe(4);
    expect(await total('range')).toBe((await api(`/api/downloads/point/${daysAgo(3)}:${today()}/acme-lib`)).downloads);

    // A filter: "not CI", then "pm = pnpm" on top. Counts from what was sent.
    await page.goto(`${c.url}/?package=acme-lib`);
    await page.selectOption('select[name=ff]', 'ci');
    await page.selectOption('select[name=fo]', '!=');
    await page.fill('input[name=fv]', 'true');
    await Promise.all([page.waitForURL(/filter=ci/), page.click('form.filter button')]);
    expect(new URL(page.url()).searchParams.getAll('filter')).toEqual(['ci!=true']);
    const notCi = month.filter((e) => e.ci !== 'true');
    const count = (xs: Sent[], f: keyof Sent) => xs.reduce<Record<string, number>>((m, e) => ((m[e[f]] = (m[e[f]] ?? 0) + 1), m), {});
    expect(await total('range')).toBe(notCi.length + 1);
    expect(await table('ci')).toEqual({ false: notCi.length + 1 });
    expect(await table('arch')).toEqual({ ...count(notCi, 'arch'), x64: count(notCi, 'arch').x64! + 1 });
    await shot('dashboard-filtered.png');
    // The bookmark reproduces the view; a second filter narrows every chart further.
    await page.goto(page.url() + '&filter=pm%3Dpnpm');
    const both = notCi.filter((e) => e.pm === 'pnpm');
    expect(await total('range')).toBe(both.length);
    expect(await table('platform')).toEqual(count(both, 'platform'));
    expect(await table('version')).toEqual(count(both, 'version'));
    // Removing one filter by its ×.
    await Promise.all([page.waitForURL((u) => u.searchParams.getAll('filter').length === 1), page.click('.chip:has-text("pm") a')]);
    expect(await total('range')).toBe(notCi.length + 1);

    // Filtering on the new variable: only what the users asked for.
    await page.goto(`${c.url}/?package=acme-lib&filter=direct%3Dtrue`);
    expect(await total('range')).toBe(month.filter((e) => e.direct === 'true').length);
    expect(await table('pm')).toEqual(count(month.filter((e) => e.direct === 'true'), 'pm'));

    // Version grouping.
    await page.goto(`${c.url}/?package=acme-lib&versions=major`);
    expect(await table('version')).toEqual({ '1.x': month.filter((e) => e.version.startsWith('1.')).length, '2.x': month.filter((e) => e.version.startsWith('2.')).length, [HOSTILE_VERSION]: 1 });
    expect(problems).toEqual([]);
  });

  it('hostile values (ingested, and written straight into the database) are shown as text: no dialog, no console error, no request off the collector, no link from them', async () => {
    await page.goto(`${c.url}/?package=acme-lib`);
    expect(await table('version')).toMatchObject({ [HOSTILE_VERSION]: 1 });
    expect(await table('pm')).toMatchObject({ 'javascript:alert(1)': 1 });
    expect(await table('ci_name')).toMatchObject({ '"><svg onload=alert(1)>': 1 });
    // A variable no template names (the default route stores every query parameter): a section and a filter of its own, as text.
    expect(await table('utm_source')).toEqual({ '<b onmouseover=alert(6)>x</b>': 1 });
    expect(await page.$$eval('select[name=ff] option', (o) => o.map((x) => x.getAttribute('value')))).toContain('utm_source');
    // The picker offers the hostile package name as an option; choosing it renders it as text.
    await page.selectOption('select[name=package]', HOSTILE_NAME);
    await Promise.all([page.waitForURL(/package=%22/), page.click('form.picker button')]);
    expect(await page.textContent('h1')).toBe(HOSTILE_NAME);
    expect(await total('last-week')).toBe(5);
    expect(await table('version')).toEqual({ 'javascript:alert(document.cookie)': 5 });
    expect(await table('platform')).toEqual({ '<img src=x onerror=alert(2)>': 5 });
    // The asked-for/pulled-in chart (issue 14) appears because the data has the field "direct".
    expect(await page.isVisible('#direct-over-time')).toBe(true);
    // A value other than true/false/unknown is drawn as "(other values)" there (issue 20: senders choose them), and listed as text in the field's table.
    expect(await page.$$eval('#direct-over-time th', (t) => t.map((x) => x.textContent))).toEqual(['day', 'asked for (direct)', 'pulled in (transitive)', 'unknown', '(other values)']);
    expect(await table('direct')).toEqual({ true: 3, '"><iframe src=javascript:alert(3)>': 2 });
    await page.selectOption('select[name=ff]', 'version');
    await page.fill('input[name=fv]', 'javascript:alert(4)');
    await Promise.all([page.waitForURL(/filter=version/), page.click('form.filter button')]);
    expect(await table('platform')).toEqual({ '</title><script>alert(5)</script>': 1 });
    await page.goto(`${c.url}/?package=${encodeURIComponent(HOSTILE_NAME)}`);
    await shot('dashboard-hostile.png');
    const dom = await page.evaluate(() => ({
      scripts: document.querySelectorAll('script').length,
      imgs: document.querySelectorAll('img, iframe, object, embed').length,
      handlers: [...document.querySelectorAll('*')].flatMap((e) => [...e.attributes].filter((a) => a.name.startsWith('on')).map((a) => a.name)),
      hrefs: [...document.querySelectorAll('[href]')].map((a) => a.getAttribute('href')!),
    }));
    expect({ ...dom, hrefs: dom.hrefs.filter((h) => !h.startsWith('/')) }).toEqual({ scripts: 0, imgs: 0, handlers: [], hrefs: [] });
    expect(problems).toEqual([]);
  });

  it('sends a strict Content-Security-Policy, and a collector without installs tells the author what to put in installBeacon.url', async () => {
    const r = await request(c.url, '/', { headers: auth });
    expect(r.headers['content-security-policy']).toBe("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'");
    const dir = temps.make('ibc-empty-');
    const empty = await startBin(['--port', '0', '--db', join(dir, 'e.db'), '--public'], baseEnv(temps.make('ibc-home-'), { DATABASE_URL: undefined }));
    try {
      const p = await context.newPage();
      await p.goto(`${empty.url}/`);
      const route = empty.lines.find((l) => l.startsWith('  http'))!.trim();
      expect(await p.textContent('pre.copy')).toBe(`"installBeacon": {\n  "url": "${route}"\n}`);
      if (SCREENSHOTS) await p.screenshot({ path: join(SCREENSHOTS, 'dashboard-empty.png') });
      await p.close();
    } finally {
      await empty.stop();
    }
    expect(problems).toEqual([]);
  });
});
