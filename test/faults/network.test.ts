import { rmSync } from 'node:fs';
import type * as net from 'node:net';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  bound, config, expectClean, expectEvents, privacyCase, expectOnlyMarkerWritten, expectRetryLater, hookEnv, makeTree,
  quiet, reapSenders, removeTrees, runHook, skipReason, SKIP_BOUND, snapshot, unshareUnavailable, writeResults, type Tree,
} from './harness.js';
import { closeAll, deadPort, httpServer, makeTls, tcpServer, type FaultServer } from './servers.js';

// Network faults: each case points the hook at a misbehaving local server and
// checks that the install is neither failed nor held past its deadline.

const TIMEOUT = 1000;
const trees: Tree[] = [];
const tls = makeTls();
const tree = (installBeacon: unknown) => {
  const t = makeTree({ installBeacon });
  trees.push(t);
  return t;
};
const tlsEnv = (t: Tree) => hookEnv(t, tls ? { NODE_EXTRA_CA_CERTS: tls.caFile } : {});

afterEach(async () => {
  await closeAll();
});
afterAll(() => {
  removeTrees();
  if (tls) rmSync(tls.dir, { recursive: true, force: true });
  writeResults('network');
});

/** Inline delivery against `server`: exit 0 within the deadline bound, the notice printed, `n` requests seen. */
async function inline(server: FaultServer, n: number, path = '/e/{name}/{version}') {
  const t = tree(config(`${server.base}${path}`, 'inline', TIMEOUT));
  const before = snapshot(t.root);
  const r = await runHook(t, { env: tlsEnv(t) });
  expectClean(r, bound(TIMEOUT), 'notice');
  await quiet(server);
  expectEvents(server.requests.length, n);
  expectOnlyMarkerWritten(t, before);
  return { t, r };
}

/** Background delivery: the hook exits at once; the sender is waited for (bounded) and its requests counted. */
async function background(server: FaultServer, n: number, senderBoundMs = 12_000) {
  const t = tree(config(`${server.base}/e/{name}/{version}`, 'background'));
  const before = snapshot(t.root);
  const r = await runHook(t, { env: tlsEnv(t) });
  expectClean(r, SKIP_BOUND, 'notice');
  const leftover = await reapSenders(String(server.port), senderBoundMs);
  expect(leftover, 'background senders still running past 10 s + 2 s').toEqual([]);
  await quiet(server);
  expectEvents(server.requests.length, n);
  expectOnlyMarkerWritten(t, before);
  return { t, r };
}

const blackHole = () => tcpServer(() => undefined);
const stallBody = () =>
  httpServer((_req, res) => {
    res.writeHead(200, { 'content-length': '1000' });
    res.write('x'); // headers, one byte, then nothing
  });
const slowLoris = () =>
  tcpServer((socket: net.Socket) => {
    const text = 'HTTP/1.1 200 OK\r\nX-Slow: ' + 'a'.repeat(1000);
    let i = 0;
    const timer = setInterval(() => {
      if (socket.destroyed || i >= text.length) return clearInterval(timer);
      socket.write(text[i++]!);
    }, 100);
    socket.on('close', () => clearInterval(timer));
  });

describe('network faults, inline delivery (deadline 1000 ms)', () => {
  it('connection refused', async () => {
    const port = await deadPort();
    const t = tree(config(`http://127.0.0.1:${port}/e/{name}`, 'inline', TIMEOUT));
    const before = snapshot(t.root);
    const r = await runHook(t);
    expectClean(r, bound(TIMEOUT), 'notice');
    // Nothing listens, so nothing can be counted at the port: what proves the
    // attempt failed (and was not skipped) is the claim kept as an empty
    // marker, retried by a later run after RETRY_AFTER_MS.
    expectOnlyMarkerWritten(t, before, 1);
    expectRetryLater(t);
  });

  it('connection reset as soon as it is accepted: one connection, no retry inline', async () => {
    const s = await tcpServer((socket) => socket.resetAndDestroy());
    const { t } = await inline(s, 0);
    expect(s.connections, 'connections: one attempt').toBe(1);
    expectRetryLater(t);
  });

  it('black hole: accepts, never answers', async () => {
    const s = await blackHole();
    const { t } = await inline(s, 1);
    expect(s.connections).toBe(1);
    expectRetryLater(t);
  });

  it('headers, then the body stalls', async () => {
    const s = await stallBody();
    await inline(s, 1);
  });

  it('slow loris: one byte of the response head every 100 ms', async () => {
    const s = await slowLoris();
    await inline(s, 1);
  });

  for (const status of [500, 503, 429]) {
    it(`HTTP ${status}: no retry inline`, async () => {
      const s = await httpServer((_req, res) => {
        res.writeHead(status);
        res.end();
      });
      await inline(s, 1);
    });
  }

  it('HTTP 503 that answers slowly: no retry starts past the deadline', async () => {
    const s = await httpServer((_req, res) => {
      setTimeout(() => {
        res.writeHead(503);
        res.end();
      }, 900);
    });
    await inline(s, 1);
  });

  it('connection reset before the response head', async () => {
    const s = await tcpServer((socket) => socket.once('data', () => socket.resetAndDestroy()));
    await inline(s, 1);
  });

  it('connection reset mid-response (head sent, body cut)', async () => {
    const s = await tcpServer((socket) =>
      socket.once('data', () => {
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n' + 'x'.repeat(5000));
        setTimeout(() => socket.resetAndDestroy(), 50);
      }),
    );
    await inline(s, 1);
  });

  it('a 10 MB response body', async () => {
    const body = Buffer.alloc(10 * 1024 * 1024, 120);
    const s = await httpServer((_req, res) => {
      res.writeHead(200, { 'content-length': String(body.length) });
      res.end(body);
    });
    await inline(s, 1);
  });

  it('a redirect loop: at most 3 redirects followed', async () => {
    const s = await httpServer((req, res) => {
      res.writeHead(302, { location: req.url ?? '/' });
      res.end();
    });
    await inline(s, 4);
  });

  it.skipIf(skipReason('https to http redirect', tls ? undefined : 'openssl is not available'))('a redirect from https to http is not followed', async () => {
    const plain = await httpServer();
    const secure = await httpServer((_req, res) => {
      res.writeHead(302, { location: `${plain.base}/from-https` });
      res.end();
    }, tls);
    await inline(secure, 1);
    await quiet(plain);
    expect(plain.connections, 'no connection to the http target').toBe(0);
  });

  it.skipIf(skipReason('https happy path', tls ? undefined : 'openssl is not available'))('https (self-signed CA via NODE_EXTRA_CA_CERTS): delivered', async () => {
    const secure = await httpServer(undefined, tls);
    const { t } = await inline(secure, 1);
    expect(snapshot(t.markerDir).size, 'claim kept after a delivered event').toBe(1);
  });

  it('an unresolvable host (nonexistent.invalid)', async () => {
    const t = tree(config('https://nonexistent.invalid/e/{name}', 'inline', TIMEOUT));
    const before = snapshot(t.root);
    const r = await runHook(t);
    expectClean(r, bound(TIMEOUT), 'notice');
    // No server can see this one: the empty claim kept for a later retry is the evidence.
    expectOnlyMarkerWritten(t, before, 1);
    expectRetryLater(t);
  });

  const noNet = unshareUnavailable(['-n']);
  it.skipIf(skipReason('no network (unshare -n)', noNet))('no network at all: a private network namespace (unshare -n)', async () => {
    for (const url of ['https://nonexistent.invalid/e/{name}', 'http://127.0.0.1:7707/e/{name}', 'https://[::1]:7707/e/{name}']) {
      const t = tree(config(url, 'inline', TIMEOUT));
      const before = snapshot(t.root);
      const r = await runHook(t, { wrap: ['unshare', '-n'] });
      expectClean(r, bound(TIMEOUT), 'notice');
      expectOnlyMarkerWritten(t, before, 1);
      expectRetryLater(t);
    }
  });
});

describe('network faults, background delivery (sender deadline 10 s, one retry)', () => {
  for (const status of [500, 503, 429]) {
    it(`HTTP ${status}: exactly one retry`, async () => {
      const s = await httpServer((_req, res) => {
        res.writeHead(status);
        res.end();
      });
      const { t } = await background(s, 2);
      expectRetryLater(t);
    });
  }

  it('HTTP 503 then 204: the retry delivers, the claim is kept', async () => {
    const s = await httpServer((_req, res, i) => {
      res.writeHead(i === 0 ? 503 : 204);
      res.end();
    });
    const { t } = await background(s, 2);
    expect(snapshot(t.markerDir).size).toBe(1);
  });

  it('connection refused: one retry, then the sender exits', async () => {
    const port = await deadPort();
    const t = tree(config(`http://127.0.0.1:${port}/e/{name}`, 'background'));
    const r = await runHook(t);
    expectClean(r, SKIP_BOUND, 'notice');
    expect(await reapSenders(String(port), 12_000)).toEqual([]);
    expectRetryLater(t);
  });

  it('connection reset as soon as it is accepted: exactly one retry (two connections), then the sender exits', async () => {
    const s = await tcpServer((socket) => socket.resetAndDestroy());
    const { t } = await background(s, 0);
    expect(s.connections, 'connections: the attempt and its one retry').toBe(2);
    expectRetryLater(t);
  });

  it('black hole: the sender gives up at its 10 s deadline, no retry past it', async () => {
    const s = await blackHole();
    await background(s, 1, 12_000);
  });

  it('a 10 MB body and a stalled body: the sender exits without reading them', async () => {
    const body = Buffer.alloc(10 * 1024 * 1024, 120);
    const big = await httpServer((_req, res) => {
      res.writeHead(200, { 'content-length': String(body.length) });
      res.end(body);
    });
    await background(big, 1, 3000);
    const stall = await stallBody();
    await background(stall, 1, 3000);
  });
});

privacyCase(trees);
