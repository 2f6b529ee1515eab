import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseEnv, TempDirs } from '../../test/support/process.js';
import type { MemorySample } from '../src/bench-memory.js';
import { killAll, startBin } from './support/bin.js';
import { waitUntil } from './support/http.js';
import { postgresSkipped, startPostgres, type Postgres } from './support/postgres.js';

// Issue 22 item 4, "memory flat": what the collector still holds after a forced full GC does not grow with the
// requests it has answered. The built collector's threads report their own heap (INSTALL_BEACON_BENCH_MEMORY,
// src/bench-memory.ts); a full GC runs in each while FILE.gc exists. Between the warm-up and the end, 20,000
// requests of the kinds ingest meets (stored, refused: no route or a bad query, on kept-alive connections and on
// connections of their own, POST bodies) may leave at most 25 bytes each reachable (500 kB; measured on this code:
// -110 kB in the main thread, +100 kB in the worker with SQLite; +46 kB with PostgreSQL). A Map entry, listener or closure kept per request or per
// connection is more (a Map of URLs in ingest.ts: 111 bytes a request; the worker keeping each event id: 35). No time is asserted.

const temps = new TempDirs();
let pg: Postgres | undefined;
beforeAll(async () => {
  if (!postgresSkipped) pg = await startPostgres();
});
afterAll(async () => {
  killAll();
  temps.cleanup();
  await pg?.destroy();
});

const REQUESTS = 20_000;
const BYTES_PER_REQUEST = 25;

/** One request of the mix, by its number: mostly stored events on kept-alive connections, and every other path. */
function send(base: URL, agent: http.Agent, i: number): Promise<number> {
  const kind = i % 10;
  const id = `mb-${i}`;
  const [method, path, body, own] =
    kind === 0 ? ['GET', `/nope/${id}`, undefined, false] // no route: 404
      : kind === 1 ? ['GET', `/mb-lib/1.0.0/linux/x64?ci=false&ci=true&event_id=${id}`, undefined, false] // a parameter twice: 400
        : kind === 2 ? ['GET', `/mb-lib/1.0.0/linux/x64?ci=false&event_id=${id}`, undefined, true] // a connection of its own
          : kind === 3 ? ['POST', '/mb-lib/1.0.0/linux/x64?ci=false', JSON.stringify([{ event_id: `${id}-a` }, { event_id: `${id}-b` }]), false]
            : ['GET', `/mb-lib/1.0.0/linux/x64?ci=false&event_id=${id}`, undefined, false];
  return new Promise((resolve) => {
    const req = http.request({ host: base.hostname, port: base.port, path, method, agent: own ? false : agent, headers: body ? { 'content-type': 'application/json' } : {} }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

async function traffic(url: string, from: number, to: number): Promise<Record<number, number>> {
  const base = new URL(url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  const statuses: Record<number, number> = {};
  let next = from;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < to) {
        const s = await send(base, agent, next++);
        statuses[s] = (statuses[s] ?? 0) + 1;
      }
    }),
  );
  agent.destroy();
  return statuses;
}

const samples = (file: string): MemorySample[] => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as MemorySample) : []);

/** Each thread's heapUsed right after a full GC that starts now. */
async function heapAfterGc(file: string, threads: readonly string[]): Promise<Record<string, number>> {
  const since = Date.now();
  writeFileSync(`${file}.gc`, '');
  try {
    const after = () => samples(file).filter((s) => s.gc && s.t > since);
    await waitUntil('a sample after a forced GC from every thread', () => new Set(after().map((s) => s.thread)).size === threads.length);
    return Object.fromEntries(after().map((s) => [s.thread, s.heapUsed]));
  } finally {
    rmSync(`${file}.gc`, { force: true });
  }
}

const backends = [
  { name: 'SQLite', threads: ['main', 'sqlite worker'], db: async (dir: string) => ['--db', join(dir, 'e.db')] },
  { name: 'PostgreSQL', threads: ['main'], db: async () => ['--database-url', await pg!.createDatabase('membound')] },
].filter((b) => !(postgresSkipped && b.name === 'PostgreSQL'));

describe.each(backends)('memory under steady ingest (the built collector, $name)', ({ threads, db }) => {
  it(`${REQUESTS} more requests leave at most ${BYTES_PER_REQUEST} bytes each reachable in each thread`, { timeout: 180_000 }, async () => {
    const dir = temps.make('ibc-membound-');
    const file = join(dir, 'memory.jsonl');
    const env = baseEnv(temps.make('ibc-home-'), {
      INSTALL_BEACON_TOKEN: 'membound-token-0123456789',
      DATABASE_URL: undefined,
      INSTALL_BEACON_BENCH: join(dir, 'counts.json'),
      INSTALL_BEACON_BENCH_MEMORY: file,
      NODE_OPTIONS: '--expose-gc',
    });
    const c = await startBin(['--port', '0', ...(await db(dir)), '--rate-limit', '0', '--max-connections-per-address', '0'], env);
    // Warm-up: code compiled, caches and pools at their size.
    await traffic(c.url, 0, 4000);
    const before = await heapAfterGc(file, threads);
    const statuses = await traffic(c.url, 4000, 4000 + REQUESTS);
    const after = await heapAfterGc(file, threads);
    expect(await c.stop()).toBe(0);
    // Every kind of answer was given (stored, no route, refused), and nothing failed.
    expect(Object.keys(statuses).sort()).toEqual(['200', '400', '404']);
    for (const thread of threads) {
      const grown = after[thread]! - before[thread]!;
      expect(grown / REQUESTS, `${thread}: heap after GC ${before[thread]} -> ${after[thread]} bytes`).toBeLessThanOrEqual(BYTES_PER_REQUEST);
    }
  });
});
