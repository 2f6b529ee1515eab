import { connect, type Socket } from 'node:net';
import * as http from 'node:http';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { baseEnv, TempDirs } from '../../../test/support/process.js';
import { killAll, startBin } from '../support/bin.js';
import { request, waitUntil } from '../support/http.js';

// SIGTERM with keep-alive clients (issue 20 item 8) and slow connections that would hold every file
// descriptor (item 9), against the built collector as a real process on loopback.

const temps = new TempDirs();
const env = () => baseEnv(temps.make('ibc-home-'), { INSTALL_BEACON_TOKEN: 'ops-token-0123456789abcdef', DATABASE_URL: undefined });

afterAll(() => {
  killAll();
  temps.cleanup();
});

describe('SIGTERM with a keep-alive client sending every 200 ms', () => {
  it('answers Connection: close while draining and exits 0; every acknowledged event is stored', async () => {
    const file = join(temps.make('ibc-drain-'), 'events.db');
    const c = await startBin(['--port', '0', '--db', file], env());
    const u = new URL(c.url);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const acked: string[] = [];
    const closeHeaders: string[] = [];
    let sending = true;
    let signalled = false;
    let n = 0;
    const client = (async () => {
      while (sending) {
        const id = `drain-${n++}`;
        const afterSignal = signalled;
        await new Promise<void>((resolve) => {
          const req = http.get({ host: u.hostname, port: u.port, path: `/acme-lib/1.0.0/linux/x64?event_id=${id}`, agent }, (res) => {
            res.resume();
            res.on('end', () => {
              if (res.statusCode === 200) acked.push(id);
              if (afterSignal) closeHeaders.push(`${res.statusCode} ${res.headers.connection}`);
              resolve();
            });
          });
          req.on('error', () => resolve());
        });
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    let code: number | null = null;
    try {
      await waitUntil('5 events acknowledged', () => acked.length >= 5);
      signalled = true;
      const exited = c.stop();
      // A bounded wait (the test's, not a timing claim): before, the client kept it alive as long as it sent.
      code = await Promise.race([exited, new Promise<number>((r) => setTimeout(() => r(-1), 40_000))]);
    } finally {
      sending = false;
      await client;
      agent.destroy();
      if (code === -1) await c.stop('SIGKILL');
    }
    expect(code).toBe(0);
    // Every answer to a request sent after SIGTERM said close (the next request finds the port closed).
    expect(closeHeaders.filter((h) => !h.endsWith(' close'))).toEqual([]);
    const d = new Database(file, { readonly: true });
    const stored = new Set((d.prepare('SELECT event_id FROM events').all() as { event_id: string }[]).map((r) => r.event_id));
    d.close();
    expect(acked.filter((id) => !stored.has(id))).toEqual([]);
  });
});

/**
 * `slots` connections from `address`, each sending a request head one byte every second and never finishing
 * it; a slot whose connection is closed opens a new one after 250 ms. Returns a stop function.
 */
function trickle(port: number, address: string, slots: number): () => void {
  let stopped = false;
  const open = new Set<Socket>();
  const slot = () => {
    if (stopped) return;
    const s = connect({ port, host: '127.0.0.1', localAddress: address });
    open.add(s);
    const head = 'GET /acme-lib/1.0.0/linux/x64 HTTP/1.1\r\nHost: x\r\nX-Slow: ';
    let i = 0;
    const t = setInterval(() => s.writable && s.write(head[i++ % head.length]!), 1000);
    s.on('error', () => {});
    s.once('close', () => {
      clearInterval(t);
      open.delete(s);
      setTimeout(slot, 250);
    });
  };
  for (let k = 0; k < slots; k++) slot();
  return () => {
    stopped = true;
    for (const s of open) s.destroy();
  };
}

/** `count` ingest probes from 127.0.0.1, one after another, each given 5 s: how many got a 200. */
async function probes(url: string, count: number): Promise<number> {
  let ok = 0;
  for (let i = 0; i < count; i++) {
    const r = await Promise.race([request(url, `/acme-lib/1.0.0/linux/x64?event_id=probe-${i}-${Math.random()}`).catch(() => undefined), new Promise<undefined>((r) => setTimeout(r, 5000))]);
    if (r?.status === 200) ok++;
  }
  return ok;
}

describe('slow connections under a 160-descriptor limit (prlimit)', () => {
  const prlimit = ['prlimit', '--nofile=160:160', '--'];

  it('200 trickling connections from one address: it holds 64 (the per-address default), and 10 of 10 probes from another address are served', async () => {
    const c = await startBin(['--port', '0', '--db', join(temps.make('ibc-slow-'), 'e.db')], env(), undefined, prlimit);
    const stop = trickle(Number(new URL(c.url).port), '127.0.0.2', 200);
    try {
      await new Promise((r) => setTimeout(r, 1500)); // the slots connect (not a wait for a result)
      expect(await probes(c.url, 10)).toBe(10);
    } finally {
      stop();
      await c.stop();
    }
  });

  it('4 addresses x 50 trickling connections with --max-connections 100: the longest waiting give way, and 10 of 10 probes are served', async () => {
    const c = await startBin(['--port', '0', '--db', join(temps.make('ibc-slow-'), 'e.db'), '--max-connections', '100'], env(), undefined, prlimit);
    const port = Number(new URL(c.url).port);
    const stops = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'].map((a) => trickle(port, a, 50));
    try {
      await new Promise((r) => setTimeout(r, 1500));
      expect(await probes(c.url, 10)).toBe(10);
    } finally {
      for (const s of stops) s();
      await c.stop();
    }
  });
});
