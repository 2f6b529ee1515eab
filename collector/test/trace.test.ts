import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { baseEnv, TempDirs } from '../../test/support/process.js';
import { parseConfig } from '../src/config.js';
import { summarize } from '../src/trace.js';
import { killAll, startBin } from './support/bin.js';
import { request } from './support/http.js';

// The benchmark's timeline of ingest (issue 22 item 1): off unless INSTALL_BEACON_BENCH asks for it;
// with it, the built collector writes at exit how many commits and events it ran, and with
// INSTALL_BEACON_BENCH_STAGES=1 the time of every stage of a request. Durations are not asserted, only what was recorded.

const temps = new TempDirs();
afterAll(() => {
  killAll();
  temps.cleanup();
});

describe('INSTALL_BEACON_BENCH in the config', () => {
  it.each([
    [{}, undefined],
    [{ INSTALL_BEACON_BENCH_STAGES: '1' }, undefined],
    [{ INSTALL_BEACON_BENCH: 'c.json' }, { file: '/srv/c.json', stages: false, sqliteOnMain: false }],
    [{ INSTALL_BEACON_BENCH: '/t/c.json', INSTALL_BEACON_BENCH_STAGES: '1' }, { file: '/t/c.json', stages: true, sqliteOnMain: false }],
    // SQLite on the HTTP thread is the bench's counterfactual only: without INSTALL_BEACON_BENCH it is not read.
    [{ INSTALL_BEACON_SQLITE_THREAD: 'main' }, undefined],
    [{ INSTALL_BEACON_BENCH_SQLITE_THREAD: 'main' }, undefined],
    [{ INSTALL_BEACON_BENCH: 'c.json', INSTALL_BEACON_BENCH_SQLITE_THREAD: 'main' }, { file: '/srv/c.json', stages: false, sqliteOnMain: true }],
    [{ INSTALL_BEACON_BENCH: 'c.json', INSTALL_BEACON_BENCH_SQLITE_THREAD: 'worker' }, { file: '/srv/c.json', stages: false, sqliteOnMain: false }],
  ])('%j', (env, bench) => {
    const r = parseConfig([], env, '/srv');
    expect(r.ok === true && r.config.bench).toEqual(bench);
  });
});

describe('summarize', () => {
  it.each([
    [[1, 1, 2, 1, 3, 1], { mean: 2, median: 2, p99: 3, n: 3 }],
    // A batch of 9 at 5 ms weighs nine requests against one at 1 ms.
    [[1, 1, 5, 9], { mean: 4.6, median: 5, p99: 5, n: 10 }],
    [[7, 98, 100, 2], { mean: 8.86, median: 7, p99: 100, n: 100 }],
  ])('%j', (pairs, expected) => {
    expect(summarize({ s: pairs })).toEqual({ s: expected });
  });
});

const STAGES = ['parse and match', 'rate limit', 'queue wait', 'batch build', 'worker hand-off', 'dedupe + BEGIN', 'INSERTs', 'rollup upserts', 'combination upserts', 'COMMIT (fsync)', 'hand-back', 'commit call (hand-off to hand-back)', 'answer', 'handler to answer (total)'];

describe('the built collector with INSTALL_BEACON_BENCH (SQLite in its worker)', () => {
  it.each([
    [false, undefined],
    [true, STAGES],
  ])('stages %s: counts at exit, and every stage of each of the 5 requests when traced', async (stages, names) => {
    const dir = temps.make('ibc-trace-');
    const file = join(dir, 'counts.json');
    const env = baseEnv(temps.make('ibc-home-'), { INSTALL_BEACON_TOKEN: 'trace-token-0123456789', DATABASE_URL: undefined, INSTALL_BEACON_BENCH: file, INSTALL_BEACON_BENCH_STAGES: stages ? '1' : undefined });
    const c = await startBin(['--port', '0', '--db', join(dir, 'e.db')], env);
    const codes = [];
    for (let i = 0; i < 5; i++) codes.push((await request(c.url, `/t-lib/1.0.0/linux/x64?ci=false&event_id=t-${i}`)).status);
    expect(codes).toEqual([200, 200, 200, 200, 200]);
    expect(await c.stop()).toBe(0);
    const out = JSON.parse(readFileSync(file, 'utf8'));
    expect(out).toMatchObject({ items: 5, failures: 0 });
    expect(out.commits).toBeGreaterThanOrEqual(1);
    if (!names) return expect(out.stages).toBeUndefined();
    expect(Object.keys(out.stages).sort()).toEqual([...names].sort());
    for (const name of names) expect([name, out.stages[name].n]).toEqual([name, 5]);
  });
});
