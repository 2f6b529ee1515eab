/// <reference lib="dom" />
// The dashboard in the system's Chromium with N stored events (default 1 M):
// first load and each change of range or filter, timed from navigation start
// to the load event (Navigation Timing), after one warm-up. Not a test: it
// reports, it asserts nothing. Run: npm run bench:dashboard -- [--events=N] [--reps=N]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { openSqlite } from '../src/storage/sqlite.js';
import type { NewEvent } from '../src/storage/types.js';
import { startBin } from '../test/support/bin.js';
import { request } from '../test/support/http.js';
import { randomBytes } from 'node:crypto';

const arg = (name: string, def: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? def);
const N = arg('events', 1_000_000);
/** Junk events (issue 20): each with a fresh random 40-character value in 12 variables, spread over the last 30 days. */
const JUNK = arg('junk', 0);
const REPS = arg('reps', 7);
const TOKEN = 'bench-token-0123456789abcdef';

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ibc-dash-bench-'));
  const file = join(dir, 'events.db');
  try {
    const s = openSqlite(file);
    await s.migrate();
    const now = Date.now();
    const t0 = Date.now();
    for (let i = 0; i < N; i += 10_000) {
      const batch: NewEvent[] = [];
      for (let j = i; j < Math.min(N, i + 10_000); j++) {
        batch.push({
          package: 'q-lib',
          eventId: `q-${j}`,
          receivedAt: now - (j % 365) * 86_400_000 - (j % 1000),
          vars: {
            version: `1.${j % 40}.${j % 3}`, platform: ['linux', 'darwin', 'win32'][j % 3]!, arch: ['x64', 'arm64'][j % 2]!, node: `${20 + (j % 3) * 2}.1.0`,
            ci: j % 4 ? 'false' : 'true', ci_name: j % 4 ? 'none' : 'github-actions', container: j % 5 ? 'none' : 'docker', pm: ['npm', 'pnpm', 'yarn', 'bun'][j % 4]!,
            pm_version: `${10 + (j % 2)}.0.0`, install: j % 9 ? 'local' : 'global', libc: j % 7 ? 'glibc' : 'musl', trigger: j % 6 ? 'postinstall' : 'runtime', beacon_version: '1.0.0',
          },
        });
      }
      await s.insertBatch(batch);
    }
    const JUNK_FIELDS = ['node', 'ci', 'ci_name', 'container', 'pm', 'pm_version', 'install', 'libc', 'libc_version', 'trigger', 'direct', 'beacon_version'];
    for (let i = 0; i < JUNK; i += 10_000) {
      const batch: NewEvent[] = [];
      for (let j = i; j < Math.min(JUNK, i + 10_000); j++)
        batch.push({ package: 'q-lib', eventId: null, receivedAt: now - (j % 30) * 86_400_000, vars: Object.fromEntries(JUNK_FIELDS.map((f) => [f, randomBytes(30).toString('base64url').slice(0, 40)])) });
      await s.insertBatch(batch);
    }
    await s.close();
    console.log(`seeded ${N} events and ${JUNK} junk events (${JUNK * 12} junk values) in ${((Date.now() - t0) / 1000).toFixed(0)} s`);

    const c = await startBin(['--port', '0', '--db', file], { ...process.env, INSTALL_BEACON_TOKEN: TOKEN, DATABASE_URL: undefined });
    const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'] });
    try {
      const page = await (await browser.newContext()).newPage();
      await page.goto(`${c.url}/`);
      await page.fill('input[name=token]', TOKEN);
      await Promise.all([page.waitForURL((u) => u.pathname === '/'), page.click('button[type=submit]')]);
      const views: Array<[string, string]> = [
        ['first load (30 days)', '/'],
        ['range 7 days', '/?range=7'],
        ['range 90 days', '/?range=90'],
        ['range 365 days', '/?range=365'],
        ['versions grouped by minor, 365 days', '/?range=365&versions=minor'],
        ['filter ci!=true, 7 days', '/?range=7&filter=ci!%3Dtrue'],
        ['filter ci!=true, 30 days', '/?filter=ci!%3Dtrue'],
        ['filter ci!=true and pm=pnpm, 30 days', '/?filter=ci!%3Dtrue&filter=pm%3Dpnpm'],
        ['filter ci!=true, 365 days', '/?range=365&filter=ci!%3Dtrue'],
      ];
      console.log(`| view (${N.toLocaleString('en')} events, ${JUNK.toLocaleString('en')} junk) | median ms | max ms | server ms (median) | bytes |`);
      console.log('|---|---:|---:|---:|---:|');
      for (const [name, path] of views) {
        const load: number[] = [];
        const server: number[] = [];
        const bytes = Buffer.byteLength((await request(c.url, path, { headers: { authorization: `Bearer ${TOKEN}` } })).body);
        for (let i = 0; i <= REPS; i++) {
          await page.goto(`${c.url}${path}`, { waitUntil: 'load', timeout: 180_000 });
          const t = await page.evaluate(() => {
            const n = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming;
            return { load: n.loadEventEnd - n.startTime, server: n.responseStart - n.requestStart };
          });
          if (i === 0) continue; // warm-up
          load.push(t.load);
          server.push(t.server);
        }
        const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
        console.log(`| ${name} | ${med(load).toFixed(0)} | ${Math.max(...load).toFixed(0)} | ${med(server).toFixed(0)} | ${bytes} |`);
      }
      // Ingest while the dashboard renders: p99 of 200 ingest GETs paced at 20 a second (the audit's probe),
      // idle and then with a browser reloading the 365-day view without pause; the ratio is the figure.
      const probe = async () => {
        const ms: number[] = [];
        for (let i = 0; i < 200; i++) {
          const t = performance.now();
          const r = await request(c.url, `/q-lib/1.0.0/linux/x64?ci=false&event_id=probe-${Date.now()}-${i}`);
          if (r.status !== 200) throw new Error(`ingest answered ${r.status}`);
          ms.push(performance.now() - t);
          await new Promise((res) => setTimeout(res, 50));
        }
        return [...ms].sort((a, b) => a - b)[Math.floor(ms.length * 0.99)]!;
      };
      const idle = await probe();
      let loading = true;
      let loads = 0;
      const loop = (async () => {
        while (loading) (await page.goto(`${c.url}/?range=365`, { waitUntil: 'load', timeout: 180_000 }), loads++);
      })();
      const busy = await probe();
      loading = false;
      await loop;
      console.log(`ingest p99: idle ${idle.toFixed(1)} ms, while ${loads} dashboard loads ran ${busy.toFixed(1)} ms (${(busy / idle).toFixed(2)}x)`);
    } finally {
      await browser.close();
      await c.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
