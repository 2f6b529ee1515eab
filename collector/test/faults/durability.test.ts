import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { baseEnv } from '../../../test/support/process.js';
import { killAll, startBin, type Proc } from '../support/bin.js';
import { request, waitUntil } from '../support/http.js';
import { load } from '../support/load.js';
import { postgresSkipped, startPostgres, type Postgres } from '../support/postgres.js';

// A 2xx means committed: kill -9 under load, or the database stopped and
// started under load, loses nothing that was acknowledged, and stores nothing twice.

const dirs: string[] = [];
const servers: Postgres[] = [];
const TOKEN = 'fault-token-0123456789abcdef';
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'ibc-fault-'));
  dirs.push(d);
  return d;
};
const env = () => baseEnv(tmp(), { INSTALL_BEACON_TOKEN: TOKEN, DATABASE_URL: undefined });

afterAll(async () => {
  killAll();
  for (const s of servers) await s.destroy();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Every stored event of load-lib (event_ids), and the API's count for today. */
async function stored(c: Proc): Promise<{ ids: string[]; count: number }> {
  const r = await request(c.url, '/api/events.ndjson?package=load-lib', { headers: { authorization: `Bearer ${TOKEN}` } });
  const ids = r.body.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l).event_id as string);
  const p = await request(c.url, '/api/downloads/point/last-day/load-lib', { headers: { authorization: `Bearer ${TOKEN}` } });
  return { ids, count: JSON.parse(p.body).downloads };
}

function expectNothingLost(acked: string[], after: { ids: string[]; count: number }): void {
  const ids = new Set(after.ids);
  expect(ids.size).toBe(after.ids.length); // none twice
  expect(acked.filter((id) => !ids.has(id))).toEqual([]); // every acknowledged event is there
  expect(after.count).toBe(after.ids.length); // the daily count agrees with the raw events
}

async function killUnderLoad(args: string[]): Promise<void> {
  const c = await startBin(['--port', '0', '--rate-limit', '0', ...args], env());
  let killed = false;
  const run = load(c.url, {
    workers: 16,
    prefix: 'k',
    stop: () => killed,
    onAck: (n) => {
      if (n === 2000 && !killed) {
        killed = true;
        c.child.kill('SIGKILL');
      }
    },
  });
  const result = await run;
  // The kill may not have been reaped yet when the load ends: wait for the exit (stop() answers the exit code, null for a signal).
  if (c.child.exitCode === null && c.child.signalCode === null) await new Promise((r) => c.child.once('exit', r));
  expect(c.child.signalCode).toBe('SIGKILL');
  expect(result.acked.length).toBeGreaterThanOrEqual(2000);

  const again = await startBin(['--port', '0', '--rate-limit', '0', ...args], env());
  try {
    const after = await stored(again);
    const ids = new Set(after.ids);
    const tried = [...result.acked, ...result.refused, ...result.unanswered];
    // The counts for collector/README.md's reliability section.
    console.log(`reliability: kill -9 under load (${args[0] === '--db' ? 'SQLite' : 'PostgreSQL'}) ${JSON.stringify({ tried: tried.length, acknowledged: result.acked.length, stored: tried.filter((id) => ids.has(id)).length, lost: result.acked.filter((id) => !ids.has(id)).length, doubled: after.ids.length - ids.size, refusedStored: result.refused.filter((id) => ids.has(id)).length, unanswered: result.unanswered.length })}`);
    expectNothingLost(result.acked, after);
    // A replay of acknowledged events (the hook's retry) is accepted and not counted again.
    for (const id of result.acked.slice(0, 20)) expect((await request(again.url, `/load-lib/1.0.0/linux/x64?event_id=${id}`)).status).toBe(200);
    expect((await stored(again)).count).toBe(after.count);
  } finally {
    await again.stop();
  }
}

describe('kill -9 under load, then restart', () => {
  it('SQLite: every event that got a 2xx is there, none twice', async () => {
    await killUnderLoad(['--db', join(tmp(), 'k.db')]);
  });

  it.skipIf(postgresSkipped)('PostgreSQL: every event that got a 2xx is there, none twice', async () => {
    const s = await startPostgres();
    servers.push(s);
    await killUnderLoad(['--database-url', await s.createDatabase('kill')]);
  });
});

describe.skipIf(postgresSkipped)('PostgreSQL stopped and started under load', () => {
  it('503s while it is down, then recovery by itself; nothing acknowledged is lost', async () => {
    const s = await startPostgres();
    servers.push(s);
    const c = await startBin(['--port', '0', '--rate-limit', '0', '--database-url', await s.createDatabase('bounce')], env());
    try {
      let phase: 'load' | 'after' | 'done' = 'load';
      let acked = 0;
      let ackedAfter = 0;
      const result = load(c.url, {
        workers: 8,
        prefix: 'b',
        stop: () => phase === 'done',
        onAck: () => {
          acked++;
          if (phase === 'after' && ++ackedAfter >= 500) phase = 'done';
        },
      });
      // Stop the database once load is flowing, start it again once ingest answers 503.
      await waitUntil('300 acknowledged events', () => acked >= 300);
      await s.stop();
      await waitUntil('a 503 from ingest while PostgreSQL is down', async () => (await request(c.url, '/load-lib/1.0.0/linux/x64?event_id=probe-down')).status === 503);
      expect((await request(c.url, '/healthz')).status).toBe(503);
      await s.start();
      phase = 'after';
      const r = await result;
      expect(r.statuses['503'] ?? 0).toBeGreaterThan(0);
      expect(r.acked.length).toBeGreaterThanOrEqual(500);
      expectNothingLost(r.acked, await stored(c));
      expect(c.child.exitCode).toBe(null); // no crash
    } catch (e) {
      throw new Error(`${(e as Error).message}\ncollector stderr: ${c.stderr()}`);
    } finally {
      await c.stop();
    }
  });
});

describe('hostile input under load', () => {
  it('a status for each, never a crash, never stored raw', async () => {
    const c = await startBin(['--port', '0', '--db', join(tmp(), 'h.db')], env());
    try {
      const hostile = [
        '/load-lib/../../etc/passwd/x64', '/load-lib/%00/linux/x64', `/load-lib/${'a'.repeat(10_000)}/linux/x64`, '/load-lib/%C0%AF/linux/x64',
        '/load-lib/%ED%A0%80/linux/x64', '/load-lib/1/linux/x64?ci=%0d%0aSet-Cookie:x', '/load-lib/%2e%2e%2f%2e%2e/linux/x64%00', '/%00/1/linux/x64',
      ];
      const statuses = await Promise.all(hostile.map(async (p) => (await request(c.url, p)).status));
      expect(statuses.every((s) => s === 400 || s === 414 || s === 404 || s === 431)).toBe(true);
      expect((await request(c.url, '/load-lib/%3Cscript%3Ealert(1)%3C%2Fscript%3E/linux/x64')).status).toBe(200); // stored as text, for a page to escape
      const after = await stored(c);
      expect(after.count).toBe(1);
      expect(c.child.exitCode).toBe(null);
    } finally {
      await c.stop();
    }
  });
});

describe('a flood from one address', () => {
  it('is limited (429) while another address is still served, under load', async () => {
    const c = await startBin(['--port', '0', '--db', join(tmp(), 'f.db'), '--rate-limit', '300', '--trust-proxy'], env());
    try {
      const { Agent, request: raw } = await import('node:http');
      const u = new URL(c.url);
      const agent = new Agent({ keepAlive: true, maxSockets: 16 });
      const send = (ip: string, id: string) =>
        new Promise<number>((resolve) => {
          const req = raw({ host: u.hostname, port: u.port, agent, path: `/load-lib/1.0.0/linux/x64?event_id=${id}`, headers: { 'x-forwarded-for': ip } }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          });
          req.on('error', () => resolve(0));
          req.end();
        });
      let stop = false;
      const flood: Record<number, number> = {};
      const flooders = Array.from({ length: 12 }, async (_, w) => {
        for (let i = 0; !stop; i++) {
          const st = await send('203.0.113.66', `flood-${w}-${i}`);
          flood[st] = (flood[st] ?? 0) + 1;
        }
      });
      await waitUntil('the flood to be limited', () => (flood[429] ?? 0) > 100);
      const other: number[] = [];
      for (let i = 0; i < 50; i++) other.push(await send('198.51.100.23', `other-${i}`));
      stop = true;
      await Promise.all(flooders);
      agent.destroy();
      expect(other).toEqual(Array(50).fill(200));
      expect(flood[200]).toBe(300);
      expect(c.child.exitCode).toBe(null);
    } finally {
      await c.stop();
    }
  });
});

describe('slow and stuck clients', () => {
  it('a client that sends half a request head is disconnected (408), and others are served meanwhile', async () => {
    const { connect } = await import('node:net');
    const c = await startBin(['--port', '0', '--db', join(tmp(), 's.db')], env());
    try {
      const u = new URL(c.url);
      const sock = connect(Number(u.port), u.hostname);
      let got = '';
      sock.on('data', (d) => (got += d));
      const closed = new Promise<void>((resolve) => sock.on('close', () => resolve()));
      sock.write('GET /load-lib/1.0.0/linux/x64 HTTP/1.1\r\nHost: x\r\n'); // never finished
      expect((await request(c.url, '/load-lib/1.0.0/linux/x64?event_id=served')).status).toBe(200);
      await Promise.race([closed, new Promise((_, no) => setTimeout(() => no(new Error('the stuck client was not disconnected within 30 s')), 30_000))]);
      expect(got).toMatch(/^HTTP\/1\.1 408/);
    } finally {
      await c.stop();
    }
  });
});
