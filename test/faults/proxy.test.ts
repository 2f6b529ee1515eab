import { rmSync } from 'node:fs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  bound, config, expectClean, expectEvents, privacyCase, expectOnlyMarkerWritten, hookEnv, makeTree,
  removeTrees, runHook, quiet, skipReason, snapshot, writeResults, type Tree,
} from './harness.js';
import { closeAll, deadPort, httpServer, makeTls, proxyServer } from './servers.js';

// Proxies: a local CONNECT proxy for https targets and a plain HTTP proxy for
// loopback http targets, named by each variable npm or the shell may set;
// bypassed for NO_PROXY hosts; a broken proxy stays within the deadline.

const TIMEOUT = 1000;
const trees: Tree[] = [];
const tls = makeTls();
const noTls = skipReason('CONNECT proxy cases', tls ? undefined : 'openssl is not available: no https target for CONNECT');

afterEach(async () => {
  await closeAll();
});
afterAll(() => {
  removeTrees();
  if (tls) rmSync(tls.dir, { recursive: true, force: true });
  writeResults('proxy');
});

async function hook(url: string, env: Record<string, string>) {
  const t = makeTree({ installBeacon: config(url, 'inline', TIMEOUT) });
  trees.push(t);
  const before = snapshot(t.root);
  const r = await runHook(t, { env: hookEnv(t, { ...(tls ? { NODE_EXTRA_CA_CERTS: tls.caFile } : {}), ...env }) });
  expectClean(r, bound(TIMEOUT), 'notice');
  expectOnlyMarkerWritten(t, before);
}

describe.skipIf(noTls)('https target through a CONNECT proxy', () => {
  for (const key of ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'npm_config_https_proxy', 'npm_config_proxy']) {
    it(`${key} names the proxy: the event goes through CONNECT`, async () => {
      const target = await httpServer(undefined, tls);
      const proxy = await proxyServer();
      await hook(`${target.base}/e/{name}`, { [key]: proxy.base });
      await quiet(target, proxy);
      expect(proxy.connects).toEqual([`localhost:${target.port}`]);
      expectEvents(target.requests.length, 1);
    });
  }

  for (const [key, value] of [['NO_PROXY', 'localhost'], ['no_proxy', '.localhost'], ['npm_config_noproxy', 'example.com,localhost'], ['NO_PROXY', '*']] as const) {
    it(`${key}=${value} bypasses the proxy`, async () => {
      const target = await httpServer(undefined, tls);
      const proxy = await proxyServer();
      await hook(`${target.base}/e/{name}`, { HTTPS_PROXY: proxy.base, [key]: value });
      await quiet(target, proxy);
      expect(proxy.connections, 'connections to the proxy').toBe(0);
      expectEvents(target.requests.length, 1);
    });
  }

  it('a proxy that refuses: no event, within the deadline', async () => {
    const target = await httpServer(undefined, tls);
    await hook(`${target.base}/e/{name}`, { HTTPS_PROXY: `http://127.0.0.1:${await deadPort()}` });
    await quiet(target);
    expect(target.connections, 'connections to the target').toBe(0);
    expectEvents(target.requests.length, 0);
  });

  it('a proxy that closes every connection: no event, within the deadline', async () => {
    const target = await httpServer(undefined, tls);
    const proxy = await proxyServer('refuse');
    await hook(`${target.base}/e/{name}`, { HTTPS_PROXY: proxy.base });
    await quiet(target, proxy);
    expect(proxy.connections).toBe(1);
    expect(target.connections, 'connections to the target').toBe(0);
    expectEvents(target.requests.length, 0);
  });

  it('a proxy that black-holes CONNECT: no event, within the deadline', async () => {
    const target = await httpServer(undefined, tls);
    const proxy = await proxyServer('blackhole');
    await hook(`${target.base}/e/{name}`, { HTTPS_PROXY: proxy.base });
    await quiet(target, proxy);
    expect(proxy.connects).toEqual([`localhost:${target.port}`]);
    expect(target.connections, 'connections to the target').toBe(0);
    expectEvents(target.requests.length, 0);
  });
});

describe('http (loopback) target through a plain HTTP proxy', () => {
  for (const key of ['HTTP_PROXY', 'http_proxy', 'npm_config_proxy']) {
    it(`${key} names the proxy: an absolute-form GET goes through it`, async () => {
      const target = await httpServer();
      const proxy = await proxyServer();
      await hook(`${target.base}/e/{name}`, { [key]: proxy.base });
      await quiet(target, proxy);
      expect(proxy.requests.map((r) => r.url)).toEqual([`${target.base}/e/acme-lib`]);
      expectEvents(target.requests.length, 1);
    });
  }

  it('a bare host:port proxy value (as npm and curl accept it)', async () => {
    const target = await httpServer();
    const proxy = await proxyServer();
    await hook(`${target.base}/e/{name}`, { HTTP_PROXY: `127.0.0.1:${proxy.port}` });
    await quiet(target, proxy);
    expect(proxy.requests.length).toBe(1);
    expectEvents(target.requests.length, 1);
  });

  it('HTTPS_PROXY alone is not used for an http target', async () => {
    const target = await httpServer();
    const proxy = await proxyServer();
    await hook(`${target.base}/e/{name}`, { HTTPS_PROXY: proxy.base });
    await quiet(target, proxy);
    expect(proxy.connections).toBe(0);
    expectEvents(target.requests.length, 1);
  });

  for (const [key, value] of [['NO_PROXY', '127.0.0.1'], ['no_proxy', 'localhost,127.0.0.1'], ['npm_config_noproxy', '127.0.0.1']] as const) {
    it(`${key}=${value} bypasses the proxy`, async () => {
      const target = await httpServer();
      const proxy = await proxyServer();
      await hook(`${target.base}/e/{name}`, { HTTP_PROXY: proxy.base, [key]: value });
      await quiet(target, proxy);
      expect(proxy.connections).toBe(0);
      expectEvents(target.requests.length, 1);
    });
  }

  it('NO_PROXY with another port does not bypass', async () => {
    const target = await httpServer();
    const proxy = await proxyServer();
    await hook(`${target.base}/e/{name}`, { HTTP_PROXY: proxy.base, NO_PROXY: `127.0.0.1:${target.port + 1}` });
    await quiet(target, proxy);
    expect(proxy.requests.length).toBe(1);
    expectEvents(target.requests.length, 1);
  });

  it('a proxy that refuses, closes, or black-holes: within the deadline', async () => {
    const target = await httpServer();
    await hook(`${target.base}/e/{name}`, { HTTP_PROXY: `http://127.0.0.1:${await deadPort()}` });
    const closing = await proxyServer('refuse');
    await hook(`${target.base}/e/{name}`, { HTTP_PROXY: closing.base });
    const hole = await proxyServer('blackhole');
    await hook(`${target.base}/e/{name}`, { HTTP_PROXY: hole.base });
    await quiet(target, closing, hole);
    expect([closing.connections, hole.requests.length]).toEqual([1, 1]);
    expect(target.connections, 'connections to the target').toBe(0);
    expectEvents(target.requests.length, 0);
  });

  it('a malformed proxy value is ignored (direct)', async () => {
    const target = await httpServer();
    await hook(`${target.base}/e/{name}`, { HTTP_PROXY: 'http://[not a url' });
    await quiet(target);
    expectEvents(target.requests.length, 1);
  });
});

privacyCase(trees);
