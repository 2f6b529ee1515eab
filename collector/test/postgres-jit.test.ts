import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgres } from '../src/storage/postgres.js';
import type { NewEvent } from '../src/storage/types.js';
import { postgresSkipped, startPostgres, type Postgres } from './support/postgres.js';

// PostgreSQL's JIT compiler (on by default in 15) took an ingest commit of 400 events from 89 ms to
// 2.2 s in the bench (collector/BENCHMARKS.md, "POST bodies"): the batch statement's estimated cost
// crosses jit_above_cost once a batch holds a few hundred rows. The collector's sessions run with
// jit=off. Seen here without timing: with JIT forced for every statement of the server
// (jit_above_cost=0), pg_stat_statements counts the functions JIT compiled for the collector's
// statements, which must be none.

let server: Postgres;
let url: string;
beforeAll(async () => {
  if (postgresSkipped) return;
  server = await startPostgres(['shared_preload_libraries=pg_stat_statements', 'jit=on', 'jit_above_cost=0', 'jit_inline_above_cost=0', 'jit_optimize_above_cost=0']);
  url = await server.createDatabase('jit');
}, 120_000);
afterAll(async () => {
  await server?.destroy();
});

const jitFunctions = async (): Promise<{ statements: number; functions: number; available: boolean }> => {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const available = (await c.query('SELECT pg_jit_available() AS a')).rows[0].a as boolean;
    const r = await c.query(`SELECT count(*)::int AS statements, coalesce(sum(jit_functions), 0)::int AS functions FROM pg_stat_statements WHERE query ILIKE '%INSERT INTO%'`);
    return { ...(r.rows[0] as { statements: number; functions: number }), available };
  } finally {
    await c.end();
  }
};

describe.skipIf(postgresSkipped)('PostgreSQL ingest never runs the JIT compiler', () => {
  it('a batch of 400 events commits with no JIT-compiled function, though the server JIT-compiles everything else', async () => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    await c.query('CREATE EXTENSION pg_stat_statements');
    // The server's own sessions do compile: the test can see JIT when it happens.
    await c.query('CREATE TABLE t (n int)');
    await c.query('INSERT INTO t SELECT generate_series(1, 10)');
    await c.end();
    const before = await jitFunctions();
    expect(before.available).toBe(true);
    expect(before.functions).toBeGreaterThan(0);

    const s = openPostgres(url);
    try {
      await s.migrate();
      const now = Date.now();
      const batch: NewEvent[] = Array.from({ length: 400 }, (_, i) => ({ package: 'jit-lib', eventId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, receivedAt: now, vars: { version: '1.0.0', platform: 'linux', arch: 'x64', python: `3.${i % 13}` } }));
      expect(await s.insertBatch(batch)).toBe(400);
    } finally {
      await s.close();
    }
    const after = await jitFunctions();
    expect(after.statements).toBeGreaterThan(before.statements); // the collector's INSERTs are counted
    expect(after.functions).toBe(before.functions);
  }, 120_000);
});
