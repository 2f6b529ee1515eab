import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as qr from 'query-registry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.js';
import { start, type Running } from '../src/main.js';
import { request } from './support/http.js';

// A real npm-counts client (query-registry, from the registry) with the collector's origin as its
// downloads-API base URL: every call parses its answer with the client's own zod schemas, which throw
// on any shape npm would not send. query-registry sends no headers, so the collector runs --public.

let dir: string;
let c: Running;
const today = new Date().toISOString().slice(0, 10) as qr.DownloadPeriod & string;
const weekStart = new Date(Date.now() - 6 * 86_400_000).toISOString().slice(0, 10);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ibc-npm-client-'));
  const parsed = parseConfig(['--port', '0', '--public'], {}, dir);
  if (parsed.ok !== true) throw new Error('config');
  c = await start(parsed.config, () => {});
  for (const path of ['/acme-lib/1.0.0/linux/x64', '/acme-lib/1.1.0/linux/x64', '/acme-lib/1.1.0/darwin/arm64', '/other-lib/2.0.0/linux/x64', '/%40acme%2Fcore/3.0.0/linux/x64']) {
    expect((await request(c.url, path)).status).toBe(200);
  }
});
afterAll(async () => {
  await c?.close();
  rmSync(dir, { recursive: true, force: true });
});

const week = (downloads: number[]) => downloads.map((n, i) => ({ day: new Date(Date.parse(weekStart) + i * 86_400_000).toISOString().slice(0, 10), downloads: n }));

describe('query-registry against the collector', () => {
  const cases: Array<[string, (base: string) => Promise<unknown>, unknown]> = [
    ['getPackageDownloads', (b) => qr.getPackageDownloads('acme-lib', 'last-week', b), { downloads: 3, start: weekStart, end: today, package: 'acme-lib' }],
    ['getPackageDownloads (scoped)', (b) => qr.getPackageDownloads('@acme/core', 'last-day', b), { downloads: 1, start: today, end: today, package: '@acme/core' }],
    ['getDailyPackageDownloads', (b) => qr.getDailyPackageDownloads('acme-lib', 'last-week', b), { start: weekStart, end: today, package: 'acme-lib', downloads: week([0, 0, 0, 0, 0, 0, 3]) }],
    ['getDailyPackageDownloads (scoped)', (b) => qr.getDailyPackageDownloads('@acme/core', today, b), { start: today, end: today, package: '@acme/core', downloads: [{ day: today, downloads: 1 }] }],
    ['getBulkPackageDownloads', (b) => qr.getBulkPackageDownloads(['acme-lib', 'other-lib', 'never-sent'], 'last-day', b), {
      'acme-lib': { downloads: 3, start: today, end: today, package: 'acme-lib' },
      'other-lib': { downloads: 1, start: today, end: today, package: 'other-lib' },
      'never-sent': null,
    }],
    ['getBulkDailyPackageDownloads', (b) => qr.getBulkDailyPackageDownloads(['acme-lib', 'never-sent'], today, b), {
      'acme-lib': { start: today, end: today, package: 'acme-lib', downloads: [{ day: today, downloads: 3 }] },
      'never-sent': null,
    }],
    ['getRegistryDownloads', (b) => qr.getRegistryDownloads('last-day', b), { downloads: 5, start: today, end: today }],
    ['getDailyRegistryDownloads', (b) => qr.getDailyRegistryDownloads('last-week', b), { start: weekStart, end: today, downloads: week([0, 0, 0, 0, 0, 0, 5]) }],
    ['getPackageVersionsDownloads', (b) => qr.getPackageVersionsDownloads('acme-lib', b), { package: 'acme-lib', downloads: { '1.0.0': 1, '1.1.0': 2 } }],
    ['getPackageVersionsDownloads (scoped)', (b) => qr.getPackageVersionsDownloads('@acme/core', b), { package: '@acme/core', downloads: { '3.0.0': 1 } }],
  ];
  // npm's paths at the origin, and the same under /api/ (the collector's first spelling).
  it.each(['', '/api'].flatMap((prefix) => cases.map(([name, call, expected]) => [name, prefix, call, expected] as const)))('%s at origin%s passes its schema with the right counts', async (_name, prefix, call, expected) => {
    expect(await call(c.url + prefix)).toEqual(expected);
  });

  it('the calls stored nothing: still 5 events', async () => {
    const lines = (await request(c.url, '/api/events.ndjson')).body.trim().split('\n');
    expect(lines).toHaveLength(5);
  });
});
