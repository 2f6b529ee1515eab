// Ingest, as one pipeline of small steps:
//   parse + match route + validate (matchRequest, pure) -> rate limit (ratelimit.ts, pure)
//   -> enqueue (batcher.ts: group commit) -> answer only after the commit
// Every rejection is a named reason (routes.ts REJECTIONS) with its status, counted in `rejected`.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Batcher } from './batcher.js';
import { createLimiter, senderKey, WINDOW_MS } from './ratelimit.js';
import { matchRequest, REJECTIONS, type Rejection, type Route } from './routes.js';
import type { NewEvent, Storage } from './storage/types.js';

export interface IngestOptions {
  routes: readonly Route[];
  storage: Storage;
  rateLimit: number;
  trustProxy: boolean;
  now: () => number;
  /** An unacknowledged request gets 503 after this long (the database hangs). */
  ackTimeoutMs: number;
  batch?: { maxBatch?: number; lingerMs?: number; maxQueue?: number; concurrency?: number };
}

export interface Ingest {
  /** Answer one request to an ingest path (`url` as received: path and query, still percent-encoded). */
  handle(req: IncomingMessage, res: ServerResponse, url: string): Promise<void>;
  batcher: Batcher<NewEvent>;
  /** Why each rejected request was rejected (counts per reason). */
  rejected: Record<string, number>;
  /** Stop taking events and commit what is queued. */
  close(): Promise<void>;
}

export function createIngest(o: IngestOptions): Ingest {
  const { now, ackTimeoutMs } = o;
  // SQLite has one writer; PostgreSQL commits from several pooled connections at once.
  const batcher = new Batcher<NewEvent>({ commit: (b) => o.storage.insertBatch(b), concurrency: o.storage.kind === 'postgres' ? 3 : 1, ...o.batch });
  const rejected: Record<string, number> = {};

  // Per-sender fixed window of one minute (ratelimit.ts: an IPv4 address or an IPv6 /64; at most
  // MAX_KEYS senders tracked, the rest share one budget); senders live in memory only.
  const limiter = o.rateLimit === 0 ? undefined : createLimiter({ limit: o.rateLimit, now });
  // Senders are forgotten soon after their window ends even when no request comes to roll it.
  const forget = limiter && setInterval(() => limiter.sweep(), WINDOW_MS / 6);
  forget?.unref();
  function limited(req: IncomingMessage): boolean {
    return limiter !== undefined && limiter.limited(senderKey(req.socket.remoteAddress, req.headers['x-forwarded-for'], o.trustProxy));
  }

  function reject(req: IncomingMessage, res: ServerResponse, reason: Rejection): void {
    rejected[reason] = (rejected[reason] ?? 0) + 1;
    const r = REJECTIONS[reason];
    const body = r.text + '\n';
    res.writeHead(r.status, {
      'content-type': 'text/plain; charset=utf-8',
      'cache-control': 'no-store',
      'content-length': Buffer.byteLength(body),
      ...(reason === 'rate_limited' ? { 'retry-after': '60' } : {}),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  /** Enqueue, and answer once the commit holding the event is done (503 if it fails or takes too long). */
  async function commit(req: IncomingMessage, res: ServerResponse, event: NewEvent): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), ackTimeoutMs)));
    try {
      const outcome = await Promise.race([batcher.add(event), timedOut]);
      if (outcome === 'timeout') return reject(req, res, 'unavailable');
    } catch {
      return reject(req, res, 'unavailable');
    } finally {
      clearTimeout(timer);
    }
    res.writeHead(200, { 'content-length': 0, 'cache-control': 'no-store' });
    res.end();
  }

  async function handle(req: IncomingMessage, res: ServerResponse, url: string): Promise<void> {
    const m = matchRequest(o.routes, req.method ?? '', url);
    if (!m.ok) return reject(req, res, m.reason);
    if (limited(req)) return reject(req, res, 'rate_limited');
    const { event_id: eventId, ...vars } = m.event.vars;
    return commit(req, res, { package: m.event.package, eventId: eventId ?? null, receivedAt: now(), vars: vars as Record<string, string> });
  }

  return {
    handle,
    batcher,
    rejected,
    close: () => {
      if (forget) clearInterval(forget);
      return batcher.close();
    },
  };
}
