const http = require('http') as typeof import('http'); // not `import * as`: see NAMESPACE_COPY in scripts/build.mjs
import type { Env } from './env.js';
import { proxyFor } from './proxy.js';
import { isLoopbackHost } from './template.js';

// One GET with one deadline for the whole path (DNS, connect, TLS, proxy,
// redirects, response head). The body is never read. Errors are returned, not
// thrown: the caller decides whether anything is worth saying (it never is
// inside an install).

export interface DeliverOptions {
  /** Total time for every attempt, redirect and retry together. */
  deadlineMs: number;
  /** Extra attempts after a network error, a 5xx or a 429 (background: 1). */
  retries: number;
  userAgent: string;
  /** For proxy settings only. */
  env: Env;
}

export interface DeliveryResult {
  ok: boolean;
  status?: number;
  attempts: number;
  error?: string;
  /** Worth another try later (a network error, the deadline, a 5xx or a 429); false for a 4xx or a refused redirect. */
  retryable?: boolean;
}

interface Head {
  status: number;
  location?: string;
}

const MAX_REDIRECTS = 3;

/**
 * Split a rendered URL into a parsed origin and the raw path. The path is sent
 * exactly as rendered: WHATWG URL parsing would collapse "%2E%2E" segments.
 */
export function splitUrl(url: string): { origin: URL; path: string } {
  const m = /^(https?:\/\/[^/?#]*)(.*)$/i.exec(url);
  if (!m) throw new Error(`not an http(s) URL: ${url}`);
  const rest = m[2] ?? '';
  return { origin: new URL(m[1] ?? ''), path: rest.startsWith('/') ? rest : `/${rest}` };
}

class Deadline {
  private readonly end: number;
  constructor(ms: number) {
    this.end = Date.now() + ms;
  }
  remaining(): number {
    return Math.max(0, this.end - Date.now());
  }
}

function hostnameOf(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '');
}

function proxyAuth(proxy: URL): Record<string, string> {
  if (!proxy.username) return {};
  const creds = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
  return { 'proxy-authorization': `Basic ${Buffer.from(creds).toString('base64')}` };
}

/** A request through node's http/https, direct or to a plain HTTP proxy (absolute-form). */
async function viaNode(target: URL, path: string, headers: Record<string, string>, ms: number, proxy?: URL): Promise<Head> {
  const through = proxy ?? target;
  // https (and tls, 55 Node modules with http) is loaded only for an https hop.
  const mod = through.protocol === 'https:' ? await import('https') : http;
  return new Promise((resolve, reject) => {
    const req = mod.request({
      hostname: hostnameOf(through),
      port: through.port || (through.protocol === 'https:' ? 443 : 80),
      path: proxy ? `${target.origin}${path}` : path,
      method: 'GET',
      headers: proxy ? { ...headers, host: target.host, ...proxyAuth(proxy) } : headers,
      agent: false,
      rejectUnauthorized: true, // whatever NODE_TLS_REJECT_UNAUTHORIZED says
    });
    const timer = setTimeout(() => req.destroy(new Error('deadline reached')), ms);
    req.on('response', (res) => {
      clearTimeout(timer);
      const location = res.headers.location;
      res.destroy(); // the body is never read
      resolve({ status: res.statusCode ?? 0, location: typeof location === 'string' ? location : undefined });
    });
    req.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    req.end();
  });
}

/**
 * An https request tunnelled through a proxy with CONNECT, on node:http and
 * node:tls. One connection to the proxy per attempt; the proxy credentials go
 * only into the CONNECT request, never through the tunnel; the target's
 * certificate is always verified (against the target's name, not the proxy's).
 */
async function viaTunnel(target: URL, path: string, headers: Record<string, string>, ms: number, proxy: URL): Promise<Head> {
  const tls = await import('tls');
  const net = await import('net');
  const mod = proxy.protocol === 'https:' ? await import('https') : http;
  const host = hostnameOf(target);
  const authority = `${target.hostname}:${target.port || 443}`;
  return new Promise((resolve, reject) => {
    const open: { destroy(error?: Error): void }[] = [];
    let done = false;
    const finish = (error: Error | null, head?: Head) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      for (const s of open) s.destroy();
      if (error) reject(error);
      else resolve(head!);
    };
    const timer = setTimeout(() => finish(new Error('deadline reached')), ms);
    const connect = mod.request({
      hostname: hostnameOf(proxy),
      port: proxy.port || (proxy.protocol === 'https:' ? 443 : 80),
      method: 'CONNECT',
      path: authority,
      headers: { host: authority, 'user-agent': headers['user-agent'] ?? '', ...proxyAuth(proxy) },
      agent: false,
      rejectUnauthorized: true,
    });
    open.push(connect);
    connect.on('error', (error) => finish(error));
    // Node hands every answer to a CONNECT (a 407 as much as a 200) to 'connect'.
    connect.on('connect', (res, socket) => {
      open.push(socket);
      socket.on('error', (error) => finish(error));
      if (res.statusCode !== 200) return finish(new Error(`proxy answered CONNECT with ${res.statusCode}`));
      const secure = tls.connect({ socket, host, servername: net.isIP(host) ? undefined : host, rejectUnauthorized: true, ALPNProtocols: ['http/1.1'] });
      open.push(secure);
      secure.on('error', (error) => finish(error));
      const req = http.request({ host, port: target.port || 443, path, method: 'GET', headers: { ...headers, host: target.host }, createConnection: () => secure });
      open.push(req);
      req.on('error', (error) => finish(error));
      req.on('response', (r) => {
        const location = r.headers.location;
        r.destroy(); // the body is never read
        finish(null, { status: r.statusCode ?? 0, location: typeof location === 'string' ? location : undefined });
      });
      req.end();
    });
    connect.end();
  });
}

function request(target: URL, path: string, options: DeliverOptions, ms: number): Promise<Head> {
  const headers = { 'user-agent': options.userAgent, accept: '*/*' };
  const proxy = proxyFor(target, options.env);
  if (proxy && target.protocol === 'https:') return viaTunnel(target, path, headers, ms, proxy);
  return viaNode(target, path, headers, ms, proxy);
}

/** Where a redirect may go: never https to http, and http only to loopback. */
export function redirectAllowed(from: URL, to: URL): boolean {
  if (to.protocol === 'https:') return true;
  return to.protocol === 'http:' && from.protocol === 'http:' && isLoopbackHost(to.hostname);
}

async function attempt(url: string, options: DeliverOptions, deadline: Deadline): Promise<{ head?: Head; error?: string }> {
  let { origin: target, path } = splitUrl(url);
  for (let hop = 0; ; hop++) {
    const ms = deadline.remaining();
    if (ms <= 0) return { error: 'deadline reached' };
    let head: Head;
    try {
      head = await request(target, path, options, ms);
    } catch (error) {
      return { error: (error as Error).message || String(error) };
    }
    if (head.status < 300 || head.status >= 400 || !head.location) return { head };
    if (hop >= MAX_REDIRECTS) return { error: `more than ${MAX_REDIRECTS} redirects` };
    let next: URL;
    try {
      next = new URL(head.location, `${target.origin}${path}`);
    } catch {
      return { error: 'redirect to an invalid URL' };
    }
    if (!redirectAllowed(target, next)) return { error: `redirect to ${next.protocol}//${next.host} not followed` };
    target = new URL(next.origin);
    path = `${next.pathname}${next.search}`;
  }
}

const retryable = (r: { head?: Head; error?: string }): boolean =>
  r.error !== undefined ? r.error !== 'deadline reached' && !r.error.startsWith('redirect') && !r.error.startsWith('more than') : r.head!.status >= 500 || r.head!.status === 429;

export async function deliver(url: string, options: DeliverOptions): Promise<DeliveryResult> {
  const deadline = new Deadline(options.deadlineMs);
  let attempts = 0;
  for (;;) {
    attempts++;
    const result = await attempt(url, options, deadline);
    const status = result.head?.status;
    if (status !== undefined && status >= 200 && status < 300) return { ok: true, status, attempts };
    const again = retryable(result);
    if (attempts > options.retries || !again || deadline.remaining() < 50) {
      return { ok: false, status, attempts, error: result.error ?? `HTTP ${status}`, retryable: again || result.error === 'deadline reached' };
    }
    // A short pause before the one retry, well inside the remaining deadline.
    await new Promise((r) => setTimeout(r, Math.min(500, deadline.remaining() / 4)));
  }
}
