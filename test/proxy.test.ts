import { rmSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { IncomingMessage } from 'node:http';
import * as net from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { proxyFor } from '../src/proxy.js';
import { closeAll, httpServer, makeTls, proxyServer, tcpServer } from './faults/servers.js';
import { baseEnv, ROOT, run, TempDirs } from './support/process.js';

const https = new URL('https://acme.gateway.scarf.sh/x');
const http = new URL('http://127.0.0.1:7707/x');

describe('proxyFor', () => {
  it.each([
    ['no proxy set', https, {}, undefined],
    ['HTTPS_PROXY', https, { HTTPS_PROXY: 'http://proxy:3128' }, 'http://proxy:3128/'],
    ['https_proxy', https, { https_proxy: 'http://p:1' }, 'http://p:1/'],
    ['npm_config_https_proxy', https, { npm_config_https_proxy: 'http://p:2' }, 'http://p:2/'],
    ['HTTP_PROXY as fallback for https', https, { HTTP_PROXY: 'http://p:3' }, 'http://p:3/'],
    ['npm_config_proxy as fallback for https', https, { npm_config_proxy: 'http://p:4' }, 'http://p:4/'],
    ['HTTPS_PROXY wins over HTTP_PROXY', https, { HTTP_PROXY: 'http://a:1', HTTPS_PROXY: 'http://b:2' }, 'http://b:2/'],
    ['a bare host:port', https, { HTTPS_PROXY: 'proxy:3128' }, 'http://proxy:3128/'],
    ['HTTPS_PROXY is not used for http', http, { HTTPS_PROXY: 'http://p:1' }, undefined],
    ['HTTP_PROXY for http', http, { HTTP_PROXY: 'http://p:5' }, 'http://p:5/'],
    ['npm_config_proxy for http', http, { npm_config_proxy: 'http://p:6' }, 'http://p:6/'],
    ['npm writes "null" for unset', https, { npm_config_https_proxy: 'null' }, undefined],
    ['a malformed value is ignored', https, { HTTPS_PROXY: 'http://[bad', HTTP_PROXY: 'http://ok:1' }, 'http://ok:1/'],
    ['NO_PROXY exact host', https, { HTTPS_PROXY: 'http://p:1', NO_PROXY: 'acme.gateway.scarf.sh' }, undefined],
    ['no_proxy domain suffix', https, { HTTPS_PROXY: 'http://p:1', no_proxy: 'scarf.sh' }, undefined],
    ['NO_PROXY leading dot', https, { HTTPS_PROXY: 'http://p:1', NO_PROXY: '.scarf.sh' }, undefined],
    ['NO_PROXY *.', https, { HTTPS_PROXY: 'http://p:1', NO_PROXY: '*.scarf.sh' }, undefined],
    ['NO_PROXY *', https, { HTTPS_PROXY: 'http://p:1', NO_PROXY: '*' }, undefined],
    ['NO_PROXY list with spaces', https, { HTTPS_PROXY: 'http://p:1', NO_PROXY: 'foo.com, scarf.sh' }, undefined],
    ['NO_PROXY other host', https, { HTTPS_PROXY: 'http://p:1', NO_PROXY: 'example.com' }, 'http://p:1/'],
    ['NO_PROXY is not a substring match', https, { HTTPS_PROXY: 'http://p:1', NO_PROXY: 'carf.sh' }, 'http://p:1/'],
    ['NO_PROXY with the right port', https, { HTTPS_PROXY: 'http://p:1', NO_PROXY: 'acme.gateway.scarf.sh:443' }, undefined],
    ['NO_PROXY with another port', https, { HTTPS_PROXY: 'http://p:1', NO_PROXY: 'acme.gateway.scarf.sh:8443' }, 'http://p:1/'],
    ['npm_config_noproxy', http, { HTTP_PROXY: 'http://p:1', npm_config_noproxy: '127.0.0.1' }, undefined],
    ['NO_PROXY ip with port', http, { HTTP_PROXY: 'http://p:1', NO_PROXY: '127.0.0.1:7707' }, undefined],
  ])('%s', (_name, target, env, expected) => {
    expect(proxyFor(target, env)?.href).toBe(expected);
  });
});

// The CONNECT tunnel of the built dist/deliver.cjs, in a real Node process (so
// NODE_EXTRA_CA_CERTS can trust the test certificate, as it would a corporate
// CA), against a real https target on localhost and a real CONNECT proxy.

const tls = makeTls();
const temp = new TempDirs();
afterEach(() => closeAll());
afterAll(() => {
  temp.cleanup();
  if (tls) rmSync(tls.dir, { recursive: true, force: true });
});

interface Result {
  ok: boolean;
  status?: number;
  attempts: number;
  error?: string;
}

async function deliverIn(url: string, env: Record<string, string>, extraEnv: Record<string, string | undefined> = {}): Promise<Result> {
  const script = `require(${JSON.stringify(join(ROOT, 'dist/deliver.cjs'))}).deliver(${JSON.stringify(url)}, { deadlineMs: 1500, retries: 0, userAgent: 'ib-test', env: ${JSON.stringify(env)} }).then((r) => process.stdout.write(JSON.stringify(r)))`;
  const r = await run(process.execPath, ['-e', script], { env: baseEnv(temp.make('ib-proxy-home-'), extraEnv), timeoutMs: 30_000 });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as Result;
}

describe.skipIf(!tls)(`deliver through a CONNECT tunnel (dist/deliver.cjs)${tls ? '' : ' [skipped: no test certificate: openssl failed or is not installed]'}`, () => {
  const trust = { NODE_EXTRA_CA_CERTS: tls?.caFile };

  it('proxy credentials go only to the proxy, in the CONNECT request', async () => {
    const target = await httpServer(undefined, tls);
    const proxy = await proxyServer();
    const proxyUrl = `http://us%3Aer:p%40ss@127.0.0.1:${proxy.port}`;
    const r = await deliverIn(`${target.base}/e/acme?x=1`, { HTTPS_PROXY: proxyUrl }, trust);
    expect(r).toMatchObject({ ok: true, status: 204, attempts: 1 });
    expect(proxy.connects).toEqual([`localhost:${target.port}`]);
    expect(proxy.requests[0]!.headers['proxy-authorization']).toBe(`Basic ${Buffer.from('us:er:p@ss').toString('base64')}`);
    expect(target.requests.map((q) => q.url)).toEqual(['/e/acme?x=1']);
    expect(target.requests[0]!.headers.host).toBe(`localhost:${target.port}`);
    expect(target.received()).not.toMatch(/proxy-authorization|p@ss|cEBzcw/i);
  });

  it.each([
    ['an untrusted certificate', {}],
    ['an untrusted certificate with NODE_TLS_REJECT_UNAUTHORIZED=0', { NODE_TLS_REJECT_UNAUTHORIZED: '0', NODE_NO_WARNINGS: '1' }],
  ])('%s through the proxy: refused, nothing reaches the target', async (_name, extra) => {
    const target = await httpServer(undefined, tls);
    const proxy = await proxyServer();
    const r = await deliverIn(`${target.base}/e/acme`, { HTTPS_PROXY: proxy.base }, extra);
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/certificate/i);
    expect(proxy.connects).toEqual([`localhost:${target.port}`]);
    expect(target.requests).toEqual([]);
  });

  it('an untrusted certificate with NODE_TLS_REJECT_UNAUTHORIZED=0, direct: refused', async () => {
    const target = await httpServer(undefined, tls);
    const r = await deliverIn(`${target.base}/e/acme`, {}, { NODE_TLS_REJECT_UNAUTHORIZED: '0', NODE_NO_WARNINGS: '1' });
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/certificate/i);
    expect(target.requests).toEqual([]);
  });

  it('a certificate for another name (127.0.0.1 is in it, 127.0.0.2 is not): refused', async () => {
    const target = await httpServer(undefined, tls);
    const proxy = await proxyServer();
    const r = await deliverIn(`https://127.0.0.2:${target.port}/e/acme`, { HTTPS_PROXY: proxy.base }, trust);
    expect(r.ok).toBe(false);
    expect(target.requests).toEqual([]);
  });

  it('a proxy that refuses the tunnel (407): the error names the status', async () => {
    const target = await httpServer(undefined, tls);
    const proxy = await tcpServer((socket) => socket.once('data', () => socket.end('HTTP/1.1 407 Proxy Authentication Required\r\ncontent-length: 0\r\n\r\n')));
    const r = await deliverIn(`${target.base}/e/acme`, { HTTPS_PROXY: proxy.base }, trust);
    expect(r).toMatchObject({ ok: false, attempts: 1 });
    expect(r.error).toContain('407');
    expect(target.requests).toEqual([]);
  });

  it('a black-holed CONNECT ends at the one deadline', async () => {
    const target = await httpServer(undefined, tls);
    const proxy = await proxyServer('blackhole');
    const r = await deliverIn(`${target.base}/e/acme`, { HTTPS_PROXY: proxy.base }, trust);
    expect(r).toMatchObject({ ok: false, attempts: 1, error: 'deadline reached' });
  });

  it('an https:// proxy: TLS to the proxy (its certificate verified too), then the tunnel', async () => {
    const target = await httpServer(undefined, tls);
    const connects: string[] = [];
    const proxy = createHttpsServer({ key: tls!.key, cert: tls!.cert });
    proxy.on('connect', (req: IncomingMessage, client: net.Socket) => {
      connects.push(req.url ?? '');
      const upstream = net.connect(target.port, '127.0.0.1', () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.pipe(client);
        client.pipe(upstream);
      });
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const port = (proxy.address() as net.AddressInfo).port;
    try {
      const r = await deliverIn(`${target.base}/e/acme`, { HTTPS_PROXY: `https://localhost:${port}` }, trust);
      expect(r).toMatchObject({ ok: true, status: 204, attempts: 1 });
      expect(connects).toEqual([`localhost:${target.port}`]);
      expect(target.requests.length).toBe(1);
      // Without the CA, the proxy's own certificate is refused before any CONNECT.
      const refused = await deliverIn(`${target.base}/e/acme`, { HTTPS_PROXY: `https://localhost:${port}` });
      expect(refused.ok).toBe(false);
      expect(connects).toHaveLength(1);
    } finally {
      proxy.closeAllConnections();
      await new Promise((r) => proxy.close(r));
    }
  });

  it('NO_PROXY: straight to the target, the proxy never hears of it', async () => {
    const target = await httpServer(undefined, tls);
    const proxy = await proxyServer();
    const r = await deliverIn(`${target.base}/e/acme`, { HTTPS_PROXY: proxy.base, NO_PROXY: 'localhost' }, trust);
    expect(r).toMatchObject({ ok: true, status: 204 });
    expect(proxy.connections).toBe(0);
    expect(target.requests.length).toBe(1);
  });
});
