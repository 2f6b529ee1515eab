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

/** An https request tunnelled through a proxy with CONNECT, using undici (loaded only here). */
async function viaUndici(target: URL, path: string, headers: Record<string, string>, ms: number, proxy: URL): Promise<Head> {
  const { Pool, ProxyAgent } = await import('undici');
  // One connection to the proxy per attempt: undici would otherwise reconnect and
  // re-send the CONNECT when the proxy closes the socket before it was written.
  let connections = 0;
  const agent = new ProxyAgent({
    uri: proxy.href,
    connect: { timeout: ms },
    clientFactory: (origin: URL, options: object) => {
      const connect = (options as { connect: (o: object, cb: (err: Error | null, socket: unknown) => void) => void }).connect;
      return new Pool(origin, {
        ...options,
        connect: (o: object, cb: (err: Error | null, socket: unknown) => void) =>
          connections++ === 0 ? connect(o, cb) : cb(new Error('the proxy closed the connection'), null),
      } as ConstructorParameters<typeof Pool>[1]);
    },
  });
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), ms);
  try {
    const res = await agent.request({
      origin: target.origin,
      path,
      method: 'GET',
      headers,
      signal: controller.signal,
      headersTimeout: ms,
      bodyTimeout: ms,
      // undici re-sends an idempotent request on a fresh connection when the first
      // one closes before an answer: that would be a second attempt our retry
      // policy does not count (seen with a proxy that closes every connection).
      idempotent: false,
    });
    res.body.destroy(); // the body is never read
    const location = res.headers.location;
    return { status: res.statusCode, location: typeof location === 'string' ? location : undefined };
  } finally {
    clearTimeout(timer);
    agent.destroy().catch(() => {
      // Closing a tunnel that already failed: nothing left to clean up.
    });
  }
}

function request(target: URL, path: string, options: DeliverOptions, ms: number): Promise<Head> {
  const headers = { 'user-agent': options.userAgent, accept: '*/*' };
  const proxy = proxyFor(target, options.env);
  if (proxy && target.protocol === 'https:') return viaUndici(target, path, headers, ms, proxy);
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
