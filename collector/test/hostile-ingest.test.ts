import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseEnv, TempDirs } from '../../test/support/process.js';
import { killAll, startBin, type Proc } from './support/bin.js';
import { request } from './support/http.js';

// Hostile names and values sent by clients this repo did not write (curl, which can send a
// path exactly as given, and Python's requests), to the built collector: every one is refused
// with its reason, nothing of them is stored, and every kind of answer says nosniff.

const run = promisify(execFile);
const temps = new TempDirs();
const TOKEN = 'hostile-token-0123456789abcdef';
const auth = { authorization: `Bearer ${TOKEN}` };
const PYTHON = '/usr/bin/python3';
const hasRequests = existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import requests'], { stdio: 'ignore' }).status === 0;

let c: Proc;
beforeAll(async () => {
  c = await startBin(['--port', '0', '--db', join(temps.make('ibc-hostile-'), 'events.db')], baseEnv(temps.make('ibc-home-'), { INSTALL_BEACON_TOKEN: TOKEN, DATABASE_URL: undefined }));
}, 60_000);
afterAll(async () => {
  await c?.stop();
  killAll();
  temps.cleanup();
});

/** curl with the path sent byte for byte as given (no dot-segment squashing): status and body. */
async function curl(path: string): Promise<{ status: number; body: string }> {
  const { stdout } = await run('curl', ['-s', '--path-as-is', '-w', '\n%{http_code}', `${c.url}${path}`]);
  const at = stdout.lastIndexOf('\n');
  return { status: Number(stdout.slice(at + 1)), body: stdout.slice(0, at) };
}

const stored = async () => {
  const r = await request(c.url, '/api/events.ndjson', { headers: auth });
  expect(r.status).toBe(200);
  return r.body.trim() ? r.body.trim().split('\n').map((l) => JSON.parse(l) as { package: string; version?: string }) : [];
};

describe('hostile names and values are refused at ingest, with their reason', () => {
  it.each([
    ['an encoded path of dot segments as the name', '/%2E%2E%2F%2E%2E/1/linux/x64', 'the path holds a "." or ".." segment'],
    ['an encoded ".." as the name', '/%2e%2e/1/linux/x64', 'the path holds a "." or ".." segment'],
    ['a sentence as the name', `/${encodeURIComponent('! SECURITY NOTICE: re-enter your token at https://evil.example')}/1/linux/x64`, 'not a valid npm package name'],
    ['markup as the name', `/${encodeURIComponent('"><script>')}/1/linux/x64`, 'not a valid npm package name'],
    ['a bidi override in the version', '/acme-lib/1.0%E2%80%AE/linux/x64', 'bidirectional-text controls'],
    ['a right-to-left isolate in a query value', '/acme-lib/1.0.0/linux/x64?pm=%E2%81%A7npm', 'bidirectional-text controls'],
    ['a line separator in the platform', '/acme-lib/1.0.0/lin%E2%80%A8ux/x64', 'line or paragraph separators'],
    ['a byte-order mark before the version', '/acme-lib/%EF%BB%BF1.0.0/linux/x64', 'byte-order mark'],
  ])('%s: 400 and nothing stored', async (_what, path, says) => {
    const r = await curl(path);
    expect(r.status).toBe(400);
    expect(r.body).toContain(says);
    expect(await stored()).toEqual([]);
  });

  it.skipIf(!hasRequests)(`Python requests with a bidi override in a query value: 400, nothing stored${hasRequests ? '' : ' (skipped: /usr/bin/python3 has no requests module)'}`, async () => {
    const script = 'import sys, requests\nr = requests.get(sys.argv[1] + "/acme-lib/1.0.0/Linux/x86_64", params={"python": "3.11", "ci": "\\u202etrue"}, timeout=10)\nprint(r.status_code)\n';
    const { stdout } = await run(PYTHON, ['-c', script, c.url]);
    expect(stdout.trim()).toBe('400');
    expect(await stored()).toEqual([]);
  });

  it('a valid scoped name and an old-style capitalised name are still stored, exactly once each', async () => {
    expect((await curl('/%40acme%2Fcore/3.0.0/linux/x64')).status).toBe(200);
    expect((await curl('/JSONStream/1.3.5/linux/x64')).status).toBe(200);
    const events = await stored();
    expect(events.map((e) => `${e.package}@${e.version}`).sort()).toEqual(['@acme/core@3.0.0', 'JSONStream@1.3.5']);
    // The read API knows exactly the names ingest took.
    expect((await request(c.url, '/api/downloads/point/last-day/@acme/core', { headers: auth })).status).toBe(200);
  });
});

describe('every kind of answer says X-Content-Type-Options: nosniff', () => {
  it.each([
    ['an ingest 200', '/acme-lib/1.0.0/linux/x64', {}],
    ['an ingest 400', '/acme-lib/%00/linux/x64', {}],
    ['an ingest 404', '/nothing', {}],
    ['the health check', '/healthz', {}],
    ['the read API', '/api/downloads/point/last-day/acme-lib', auth],
    ['the read API without the token (401)', '/api/downloads/point/last-day/acme-lib', {}],
    ['the SVG badge', '/badge/acme-lib.svg', {}],
    ['the JSON badge', '/badge/acme-lib.json', {}],
    ['the dashboard', '/', {}],
    ['the stylesheet', '/dashboard.css', {}],
  ])('%s', async (_what, path, headers) => {
    const r = await request(c.url, path, { headers });
    expect(r.status).toBeLessThan(500);
    expect(r.headers['x-content-type-options']).toBe('nosniff');
  });
});
