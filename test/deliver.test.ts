import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { deliver, redirectAllowed, splitUrl, type DeliverOptions } from '../src/deliver.js';
import { startCollector, type Collector } from './support/collector.js';

const opts = (extra: Partial<DeliverOptions> = {}): DeliverOptions => ({ deadlineMs: 3000, retries: 0, userAgent: 'install-beacon/test', env: {}, ...extra });
const open: Array<{ close(): unknown }> = [];
const track = <T extends { close(): unknown }>(x: T): T => (open.push(x), x);
afterEach(async () => {
  await Promise.all(open.splice(0).map((x) => x.close()));
});

/** A server that answers each request with the next status in `statuses` (the last one repeats). */
async function statusServer(statuses: Array<number | [number, string]>): Promise<Collector> {
  let i = 0;
  return track(
    await startCollector((_req, res) => {
      const next = statuses[Math.min(i++, statuses.length - 1)]!;
      const [status, location] = Array.isArray(next) ? next : [next, undefined];
      res.writeHead(status, location ? { location } : {});
      res.end('body that is never read');
    }),
  );
}

describe('deliver', () => {
  it('sends one GET with the user agent, no body and no cookies', async () => {
    const c = await statusServer([204]);
    const r = await deliver(`${c.base}/acme-lib/2.3.4?ci=false`, opts());
    expect(r).toEqual({ ok: true, status: 204, attempts: 1 });
    expect(c.requests).toHaveLength(1);
    expect(c.requests[0]).toMatchObject({ method: 'GET', path: '/acme-lib/2.3.4', query: { ci: 'false' } });
    expect(c.requests[0]!.headers['user-agent']).toBe('install-beacon/test');
    expect(c.requests[0]!.headers.cookie).toBeUndefined();
    expect(c.requests[0]!.headers['content-length']).toBeUndefined();
  });

  it('sends the path exactly as rendered (no dot-segment collapsing)', async () => {
    const c = await statusServer([204]);
    await deliver(`${c.base}/a/%2E%2E/b?x=%2F`, opts());
    expect(c.requests[0]!.raw.split('\r\n')[0]).toBe('GET /a/%2E%2E/b?x=%2F HTTP/1.1');
  });

  it.each([
    [[500, 204], 1, true, 2],
    [[503, 204], 1, true, 2],
    [[429, 204], 1, true, 2],
    [[500, 500, 204], 1, false, 2],
    [[500, 204], 0, false, 1],
    [[404, 204], 1, false, 1],
    [[400], 1, false, 1],
  ] as const)('statuses %j with %i retries → ok=%s after %i requests', async (statuses, retries, ok, requests) => {
    const c = await statusServer([...statuses]);
    const r = await deliver(`${c.base}/x`, opts({ retries }));
    expect(r.ok).toBe(ok);
    if (!ok) expect(r.retryable).toBe(statuses[requests - 1]! >= 429 && statuses[requests - 1] !== 404 && statuses[requests - 1] !== 400);
    expect(c.requests).toHaveLength(requests);
  });

  it('follows up to 3 redirects', async () => {
    const c = await statusServer([[302, '/b'], [301, '/c'], [307, '/d'], 204]);
    const r = await deliver(`${c.base}/a`, opts());
    expect(r.ok).toBe(true);
    expect(c.requests.map((q) => q.path)).toEqual(['/a', '/b', '/c', '/d']);
  });

  it('stops a redirect loop after 3 redirects', async () => {
    const c = await statusServer([[302, '/loop']]);
    const r = await deliver(`${c.base}/loop`, opts({ retries: 1 }));
    expect(r).toMatchObject({ ok: false, error: 'more than 3 redirects', retryable: false });
    expect(c.requests).toHaveLength(4);
  });

  it('does not follow a redirect to plain http on a non-loopback host', async () => {
    const c = await statusServer([[302, 'http://example.com/x']]);
    const r = await deliver(`${c.base}/a`, opts());
    expect(r).toMatchObject({ ok: false, error: 'redirect to http://example.com not followed' });
    expect(c.requests).toHaveLength(1);
  });

  it('ends at the deadline against a black hole (accepts, never answers): no retry starts past it, the connection is given up', async () => {
    const sockets: net.Socket[] = [];
    const closedByClient: Array<Promise<void>> = [];
    const hole = track(
      net.createServer((s) => {
        sockets.push(s);
        closedByClient.push(new Promise((r) => s.on('close', () => r())));
        s.on('error', () => undefined);
        s.resume(); // read (and drop) the request, so the client's FIN is seen
      }),
    );
    await new Promise<void>((r) => hole.listen(0, '127.0.0.1', r));
    const port = (hole.address() as net.AddressInfo).port;
    // A retry is allowed, so only the deadline can explain a single attempt.
    const r = await deliver(`http://127.0.0.1:${port}/x`, opts({ deadlineMs: 300, retries: 1 }));
    expect(r).toEqual({ ok: false, error: 'deadline reached', attempts: 1, retryable: true, status: undefined });
    expect(sockets, 'connections: the one attempt').toHaveLength(1);
    // The request was abandoned, not left open: the client side closed the socket (vitest's timeout bounds the wait).
    await Promise.all(closedByClient);
  });

  it('returns an error (never throws) when the connection is refused, and retries once', async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const r = await deliver(`http://127.0.0.1:${port}/x`, opts({ retries: 1 }));
    expect(r.ok).toBe(false);
    expect(r.attempts).toBe(2);
    expect(r.error).toMatch(/ECONNREFUSED/);
  });

  it('goes through a plain HTTP proxy named by HTTP_PROXY, in absolute form', async () => {
    const target = await statusServer([204]);
    const proxy = await statusServer([204]);
    const r = await deliver(`${target.base}/acme?x=1`, opts({ env: { HTTP_PROXY: proxy.base } }));
    expect(r.ok).toBe(true);
    expect(target.requests).toHaveLength(0);
    expect(proxy.requests[0]!.raw.split('\r\n')[0]).toBe(`GET ${target.base}/acme?x=1 HTTP/1.1`);
    expect(proxy.requests[0]!.headers.host).toBe(`127.0.0.1:${target.port}`);
  });

  it('bypasses the proxy for NO_PROXY hosts', async () => {
    const target = await statusServer([204]);
    const proxy = await statusServer([204]);
    const r = await deliver(`${target.base}/acme`, opts({ env: { HTTP_PROXY: proxy.base, NO_PROXY: '127.0.0.1' } }));
    expect(r.ok).toBe(true);
    expect(target.requests).toHaveLength(1);
    expect(proxy.requests).toHaveLength(0);
  });
});

describe('redirectAllowed', () => {
  it.each([
    ['https://a.com/', 'https://b.com/', true],
    ['https://a.com/', 'http://a.com/', false],
    ['https://a.com/', 'http://127.0.0.1/', false],
    ['http://127.0.0.1/', 'http://127.0.0.1:9/', true],
    ['http://127.0.0.1/', 'http://localhost/', true],
    ['http://127.0.0.1/', 'http://example.com/', false],
    ['http://127.0.0.1/', 'https://example.com/', true],
    ['https://a.com/', 'ftp://a.com/', false],
  ])('%s → %s: %s', (from, to, ok) => {
    expect(redirectAllowed(new URL(from), new URL(to))).toBe(ok);
  });
});

describe('splitUrl', () => {
  it.each([
    ['https://e.com/a/b?c=d', 'https://e.com', '/a/b?c=d'],
    ['https://e.com', 'https://e.com', '/'],
    ['https://e.com?x=1', 'https://e.com', '/?x=1'],
    ['http://127.0.0.1:9/%2E%2E/x', 'http://127.0.0.1:9', '/%2E%2E/x'],
  ])('%s', (url, origin, path) => {
    const r = splitUrl(url);
    expect(r.origin.origin).toBe(origin);
    expect(r.path).toBe(path);
  });
});
