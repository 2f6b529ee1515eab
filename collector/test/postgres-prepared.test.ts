import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INSERT_BATCH, openPostgres } from '../src/storage/postgres.js';
import { countedVars } from '../src/storage/platforms.js';
import { DEFAULT_LIMITS, OTHER, TOTAL, type NewEvent } from '../src/storage/types.js';
import { postgresSkipped, startPostgres, type Postgres } from './support/postgres.js';

// The batch statement is a named prepared statement: each pooled connection sends its ~4 kB text and the
// server parses it once, then every batch is a Bind/Execute of the parameters (before, an unnamed
// statement: parsed, analysed and planned for every batch, half the server's CPU per request in the
// bench). Seen here in the server's own log (log_min_duration_statement=0 logs every Parse and Execute of
// the extended protocol, with the backend's PID), not from timing.

let server: Postgres;
let url: string;
beforeAll(async () => {
  if (postgresSkipped) return;
  server = await startPostgres(['log_min_duration_statement=0', 'log_line_prefix=pid=%p ']);
  url = await server.createDatabase('prepared');
}, 120_000);
afterAll(async () => {
  await server?.destroy();
});

const batch = (round: number, k: number): NewEvent[] =>
  Array.from({ length: 5 }, (_, i) => ({ package: 'prep-lib', eventId: `prep-${round}-${k}-${i}`, receivedAt: Date.UTC(2026, 11, 7, 12), vars: { version: `1.${i}.0`, platform: 'linux', arch: 'x64' } }));

/** Per backend PID, the Parse and Execute messages of the batch statement the server logged. */
function batchMessages(log: string): Map<string, { parse: number; execute: number }> {
  const out = new Map<string, { parse: number; execute: number }>();
  for (const m of log.matchAll(/pid=(\d+) LOG:\s+duration: [\d.]+ ms\s+(parse|execute) [^:]*: WITH ins AS \(/g)) {
    const n = out.get(m[1]!) ?? { parse: 0, execute: 0 };
    n[m[2] as 'parse' | 'execute']++;
    out.set(m[1]!, n);
  }
  return out;
}

describe.skipIf(postgresSkipped)('PostgreSQL ingest prepares its batch statement once per connection', () => {
  it('40 batches over the pool: every connection parses the statement once and executes it many times', async () => {
    const s = openPostgres(url);
    try {
      await s.migrate();
      // Four at a time, so that several pooled connections run the statement.
      for (let round = 0; round < 10; round++) await Promise.all([0, 1, 2, 3].map((k) => s.insertBatch(batch(round, k))));
      // A replayed batch is still de-duplicated by the prepared statement.
      expect(await s.insertBatch(batch(0, 0))).toBe(0);
      const day = [...(await s.daily('prep-lib', '2026-12-07', '2026-12-07'))];
      expect(day).toEqual([['2026-12-07', 200]]);
    } finally {
      await s.close();
    }
    const perBackend = batchMessages(server.log());
    const executes = [...perBackend.values()].reduce((a, b) => a + b.execute, 0);
    expect(executes).toBe(41);
    expect(perBackend.size).toBeGreaterThan(1); // the pool used several connections
    for (const [, n] of perBackend) expect(n.parse).toBe(1);
  }, 120_000);

  it('the statement has no subquery run once per event (the combination step was one, quadratic in the batch)', async () => {
    const s = openPostgres(url);
    await s.migrate();
    await s.close();
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      const events = batch(99, 0);
      const values = [events.map((e) => e.eventId), events.map((e) => e.package), events.map((e) => e.receivedAt), events.map((e) => JSON.stringify(e.vars)), TOTAL, OTHER, DEFAULT_LIMITS.values, DEFAULT_LIMITS.combinations, events.map((e) => JSON.stringify(countedVars(e.vars)))];
      const plan = (await c.query<{ 'QUERY PLAN': string }>(`EXPLAIN (COSTS OFF) ${INSERT_BATCH.text}`, values)).rows.map((r) => r['QUERY PLAN']).join('\n');
      expect(plan).toContain('Insert on combos'); // the plan of the whole statement
      expect(plan).not.toMatch(/SubPlan/);
    } finally {
      await c.end();
    }
  }, 120_000);
});
