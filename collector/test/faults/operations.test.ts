import { connect, type Socket } from 'node:net';
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
  it('a request in flight at SIGTERM is answered with Connection: close; the collector exits 0; every acknowledged event is stored', async () => {
    const file = join(temps.make('ibc-drain-'), 'events.db');
    const c = await startBin(['--port', '0', '--db', file], env());
    const u = new URL(c.url);
    // One keep-alive connection, written by hand so the signal can land while a request is in flight.
    const sock = connect(Number(u.port), u.hostname);
    let got = '';
    sock.on('data', (d) => (got += d));
    sock.on('error', () => {});
    let open = true;
    sock.once('close', () => (open = false));
    const answers: string[] = [];
    /** The next answer's head (status line and connection header), or undefined when the connection closed. */
    const nextAnswer = async (): Promise<string | undefined> => {
      await waitUntil('an answer or a close', () => got.includes('\r\n\r\n') || !open, 30_000);
      const end = got.indexOf('\r\n\r\n');
      if (end === -1) return undefined;
      const head = got.slice(0, end);
      const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
      await waitUntil('the body', () => got.length >= end + 4 + length || !open, 30_000);
      got = got.slice(end + 4 + length);
      return `${head.split('\r\n')[0]} / ${/\r\nconnection: ([^\r]*)/i.exec(head)?.[1] ?? ''}`;
    };
    const ingest = (id: string) => `GET /acme-lib/1.0.0/linux/x64?event_id=${id} HTTP/1.1\r\nHost: x\r\n`;
    const acked: string[] = [];
    let code: number | null = -1;
    try {
      sock.write(ingest('drain-0') + '\r\n');
      expect(await nextAnswer()).toBe('HTTP/1.1 200 OK / keep-alive');
      acked.push('drain-0');
      // Half a request head, then SIGTERM, then the rest of it: a request in flight during the drain.
      sock.write(ingest('drain-1'));
      const exited = c.stop();
      await waitUntil('the shutdown line', () => c.lines.some((l) => l.includes('shutting down')));
      sock.write('\r\n');
      // Then one request every 200 ms on the same connection, while it stays open (before: for as long as it sent).
      for (let i = 2; open && i < 200; i++) {
        const a = await nextAnswer();
        if (a === undefined) break;
        answers.push(a);
        if (a.startsWith('HTTP/1.1 200')) acked.push(`drain-${i - 1}`);
        await new Promise((r) => setTimeout(r, 200));
        if (open) sock.write(ingest(`drain-${i}`) + '\r\n');
      }
      code = await Promise.race([exited, new Promise<number>((r) => setTimeout(() => r(-1), 30_000))]);
    } finally {
      sock.destroy();
      if (code === -1) await c.stop('SIGKILL');
    }
    expect(answers).toHaveLength(1);
    expect(answers[0]).toMatch(/ \/ close$/);
    expect(code).toBe(0);
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
