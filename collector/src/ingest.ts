// Ingest, as one pipeline of small steps:
//   match the URL to a route (matchRequest, pure) -> read the body, bounded (a POST's)
//   -> the events in it (body.ts, pure) -> validate each against the URL's variables (eventsOf, pure)
//   -> rate limit, counting events (ratelimit.ts, pure) -> enqueue the request's events as one item
//   (batcher.ts: group commit, never split) -> answer only after the commit
// Every rejection is a named reason (routes.ts REJECTIONS) with its status, counted in `rejected`;
// on any of them nothing of the request is stored.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { answerGone, endsWithHead, requestEnded } from './ackable.js';
import { Batcher, type BatcherOptions, type Ticket } from './batcher.js';
import { MAX_BODY, parseBody } from './body.js';
import { createLimiter, senderKey, WINDOW_MS } from './ratelimit.js';
import { NO_RULES } from './accept.js';
import { checkEvent, matchRequest, MAX_URL, REJECTIONS, type IngestEvent, type Rejection, type Route } from './routes.js';
import type { NewEvent, Storage } from './storage/types.js';
import { clock, stage, tracing } from './trace.js';

/** @scarf/scarf's own path (it cannot be given another): the collector's, whatever the routes. */
export const SCARF_PATH = '/package-event/install';

/**
 * What is kept of @scarf/scarf's JSON body (report.js of @scarf/scarf 1.4.0, flattened by body.ts):
 * the package that depends on it, and the machine. Nothing else is read: not the sha256 hashes of
 * the root and grandparent packages (dependencyInfo.rootPackage.*, dependencyInfo.grandparent.*),
 * nor the parent's git SHA or settings.
 */
const SCARF_FIELDS: ReadonlyArray<[field: string, variable: string]> = [
  ['dependencyInfo.parent.name', 'name'],
  ['dependencyInfo.parent.version', 'version'],
  ['rawPlatform', 'platform'],
  ['rawArch', 'arch'],
  ['nodeVersion', 'node'],
];

type Events = { ok: true; events: Array<Omit<NewEvent, 'receivedAt'>> } | { ok: false; reason: Rejection };

/**
 * Scarf's reserved body keys (its file packages' POST: `$version`, `$type`, `$remote_address`, `$user_agent`,
 * `$domain`, `$referrer`, `$headers`, `$time`): `$version` is the event's version; the others describe the
 * requester or override the receipt time, and are never stored (nothing about the requester is; the time is
 * the server's). Any other name starting with `$` meets the name rule and is refused.
 */
const SCARF_RESERVED: Readonly<Record<string, string | null>> = { $version: 'version', $type: null, $remote_address: null, $user_agent: null, $domain: null, $referrer: null, $headers: null, $time: null, $unique_id: null };
const reservedKey = (field: string): string | null | undefined => (Object.hasOwn(SCARF_RESERVED, field) ? SCARF_RESERVED[field] : field.startsWith('$headers.') ? null : undefined);

/** @scarf/scarf's path has no route: its events meet the bounds, and no accept rules. */
const SCARF_ROUTE = { rules: NO_RULES } as Route;

/**
 * The events of one request: each body record's fields merged with the URL's variables, every field a
 * variable of its own (nested objects flattened to dotted names by body.ts), then checked as a URL's
 * event is (checkEvent: the bounds, the package name, the route's accept rules). A body's field may
 * repeat a URL variable with the same value; another value refuses the request (conflicting_value).
 * `name` names the package only where the URL does not (@scarf/scarf's path, or a route without one).
 */
export function eventsOf(matched: IngestEvent | { package?: undefined; vars: Record<string, never> }, records: readonly Record<string, string>[], route: Route = SCARF_ROUTE): Events {
  const events: Array<Omit<NewEvent, 'receivedAt'>> = [];
  for (const record of records) {
    const vars: Record<string, string> = { ...matched.vars };
    let pkg = matched.package;
    for (const [key, value] of Object.entries(record)) {
      const reserved = reservedKey(key);
      if (reserved === null) continue;
      const field = reserved ?? key;
      if (field === 'name') {
        if (pkg !== undefined && pkg !== value) return { ok: false, reason: 'conflicting_value' };
        pkg = value;
      } else if (Object.hasOwn(vars, field) && vars[field] !== value) return { ok: false, reason: 'conflicting_value' };
      else vars[field] = value;
    }
    if (pkg === undefined || pkg === '') return { ok: false, reason: 'bad_name' };
    const event = { package: pkg, vars };
    const refused = checkEvent(route, event);
    if (refused) return { ok: false, reason: refused };
    const [eventId, rest] = splitEventId(vars);
    events.push({ package: pkg, eventId, vars: rest });
  }
  return { ok: true, events };
}

/** A GET's (or HEAD's) one event, from its matched URL: every variable but event_id, which de-duplicates. */
export function urlEvent(matched: IngestEvent, receivedAt: number): NewEvent {
  const [eventId, vars] = splitEventId(matched.vars);
  return { package: matched.package, eventId, vars, receivedAt };
}

/** An event's variables split into its event_id (which de-duplicates; null without one) and the rest, which are stored. */
function splitEventId(vars: Record<string, string>): [string | null, Record<string, string>] {
  if (!Object.hasOwn(vars, 'event_id')) return [null, vars];
  const rest: Record<string, string> = {};
  for (const name of Object.keys(vars)) if (name !== 'event_id') rest[name] = vars[name]!;
  return [vars.event_id!, rest];
}

/** @scarf/scarf's fields as install-beacon's variables (SCARF_FIELDS); nothing else of the body. */
export function scarfRecord(fields: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [field, variable] of SCARF_FIELDS) if (fields[field] !== undefined) out[variable] = fields[field]!;
  return out;
}

/** The body, or 'too_large' as soon as it passes `limit` bytes (the rest is not read). */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too_large'> {
  if (Number(req.headers['content-length'] ?? 0) > limit) return Promise.resolve('too_large');
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        req.pause();
        return resolve('too_large');
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

export interface IngestOptions {
  routes: readonly Route[];
  storage: Storage;
  rateLimit: number;
  trustProxy: boolean;
  now: () => number;
  /** An unacknowledged request gets 503 after this long (the database hangs). */
  ackTimeoutMs: number;
  batch?: { maxBatch?: number; lingerMs?: number; maxQueue?: number; concurrency?: number };
  /** Told every commit's outcome (health.ts). */
  onOutcome?: BatcherOptions<NewEvent[]>['onOutcome'];
}

export interface Ingest {
  /**
   * Answer one request to an ingest path (`url` as received: path and query, still percent-encoded).
   * A GET is handled without a Promise: a Promise only when there is something to wait for (a body, or a request not yet ended).
   */
  handle(req: IncomingMessage, res: ServerResponse, url: string): void | Promise<void>;
  /** Each item is one request's events, committed together. */
  batcher: Batcher<NewEvent[]>;
  /** Why each rejected request was rejected (counts per reason). */
  rejected: Record<string, number>;
  /** Stop taking events and commit what is queued. */
  close(): Promise<void>;
}

/**
 * Every answer says nosniff (app.ts sets it for the reads). Ingest's answers give their headers as one
 * flat list to writeHead and set none before: Node then writes them as given, with no headers object.
 */
const NOSNIFF = ['x-content-type-options', 'nosniff'];
const OK_HEADERS = ['content-length', '0', 'cache-control', 'no-store', ...NOSNIFF];

export function createIngest(o: IngestOptions): Ingest {
  const { now, ackTimeoutMs } = o;
  // As many commits in flight as the storage takes (SQLite has one writer; PostgreSQL commits from several pooled connections).
  // A request's events are one item, never split across commits: a request is stored all or nothing.
  const batcher = new Batcher<NewEvent[]>({
    commit: (b) => o.storage.insertBatch(b.flat()),
    weight: (events) => events.length,
    concurrency: o.storage.concurrency,
    onOutcome: o.onOutcome,
    ...o.batch,
  });
  const rejected: Record<string, number> = {};

  // Per-sender fixed window of one minute (ratelimit.ts: an IPv4 address or an IPv6 /64; at most
  // MAX_KEYS senders tracked, the rest share one budget); senders live in memory only.
  const limiter = o.rateLimit === 0 ? undefined : createLimiter({ limit: o.rateLimit, now });
  // Senders are forgotten soon after their window ends even when no request comes to roll it.
  const forget = limiter && setInterval(() => limiter.sweep(), WINDOW_MS / 6);
  forget?.unref();
  const sender = (req: IncomingMessage) => senderKey(req.socket.remoteAddress, req.headers['x-forwarded-for'], o.trustProxy);
  /** Each event counts against the sender's budget (a POST of 10 events counts 10). */
  function limited(req: IncomingMessage, events: number): boolean {
    return limiter !== undefined && limiter.limited(sender(req), events);
  }

  function reject(req: IncomingMessage, res: ServerResponse, reason: Rejection, detail?: string): void {
    rejected[reason] = (rejected[reason] ?? 0) + 1;
    const r = REJECTIONS[reason];
    const body = r.text + (detail ? `: ${detail}` : '') + '\n';
    const headers = ['content-type', 'text/plain; charset=utf-8', 'cache-control', 'no-store', 'content-length', String(Buffer.byteLength(body)), ...NOSNIFF];
    if (reason === 'rate_limited') headers.push('retry-after', '60');
    if (reason === 'method') headers.push('allow', 'GET, HEAD, POST');
    // A body left unread (refused before it was read, or too large to read on): the connection ends with the answer.
    if (req.method === 'POST' && !req.readableEnded) headers.push('connection', 'close');
    res.writeHead(r.status, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  /**
   * One request waiting for its commit; answered once the commit holding its events is done (200), or
   * with 503 (nothing stored) when it is refused or withdrawn: at its deadline or when its client is
   * gone, unless its commit has started: then that commit's outcome answers (batcher.ts).
   */
  class Waiting implements Ticket<NewEvent[]> {
    constructor(
      readonly item: NewEvent[],
      readonly deadline: number,
      private readonly req: IncomingMessage,
      private readonly res: ServerResponse,
      private readonly t0: number,
    ) {}
    gone(): boolean {
      return answerGone(this.req, this.res);
    }
    done(error?: unknown): void {
      const { req, res, t0 } = this;
      if (error !== undefined) return res.destroyed ? undefined : reject(req, res, 'unavailable');
      const t2 = t0 && clock();
      res.writeHead(200, OK_HEADERS);
      res.end();
      if (t0) stage('answer', clock() - t2), stage('handler to answer (total)', clock() - t0);
    }
  }

  /** Enqueue once the request ended whole (a request that fails first is Node's to answer: 400). */
  function commit(req: IncomingMessage, res: ServerResponse, events: NewEvent[], t0: number): void | Promise<void> {
    const w = new Waiting(events, performance.now() + ackTimeoutMs, req, res, t0);
    if (req.complete || endsWithHead(req)) return batcher.enqueue(w);
    return requestEnded(req).then((ended) => (ended ? batcher.enqueue(w) : undefined));
  }

  function handle(req: IncomingMessage, res: ServerResponse, url: string): void | Promise<void> {
    const t0 = tracing() ? clock() : 0;
    const method = req.method ?? '';
    const scarf = url.startsWith(SCARF_PATH) && (url.length === SCARF_PATH.length || url[SCARF_PATH.length] === '?');
    let m: IngestEvent | { package?: undefined; vars: Record<string, never> };
    let route: Route | undefined;
    if (scarf) {
      if (method !== 'POST') return reject(req, res, 'method');
      if (Buffer.byteLength(url) > MAX_URL) return reject(req, res, 'uri_too_long');
      m = { vars: {} };
    } else {
      const r = matchRequest(o.routes, method, url);
      if (!r.ok) return reject(req, res, r.reason);
      m = r.event;
      route = r.route;
    }
    // A sender whose budget is spent is refused before its body is read (counted as one, as a GET is).
    if (limiter?.spent(sender(req))) {
      limited(req, 1);
      return reject(req, res, 'rate_limited');
    }
    if (method !== 'POST') {
      // A GET's or HEAD's one event is its URL's, which matchRequest has checked whole (eventsOf would again).
      const t1 = t0 && clock();
      if (limited(req, 1)) return reject(req, res, 'rate_limited');
      if (t0) stage('parse and match', t1 - t0), stage('rate limit', clock() - t1);
      return commit(req, res, [urlEvent(m as IngestEvent, now())], t0);
    }
    return post(req, res, m, route, scarf, t0);
  }

  /** A POST's events: its body's records, each merged with the URL's variables. */
  async function post(req: IncomingMessage, res: ServerResponse, m: IngestEvent | { package?: undefined; vars: Record<string, never> }, route: Route | undefined, scarf: boolean, t0: number): Promise<void> {
    const bytes = await readBody(req, MAX_BODY);
    if (bytes === 'too_large') return reject(req, res, 'body_too_large');
    const body = parseBody(req.headers['content-type'], bytes);
    if (!body.ok) return reject(req, res, body.reason, body.detail);
    const records = scarf ? body.events.map(scarfRecord) : body.events;
    const e = eventsOf(m, records, route);
    if (!e.ok) return reject(req, res, e.reason);
    const t1 = t0 && clock();
    if (limited(req, e.events.length)) return reject(req, res, 'rate_limited');
    if (t0) stage('parse and match', t1 - t0), stage('rate limit', clock() - t1);
    const receivedAt = now();
    return commit(req, res, e.events.map((event) => ({ ...event, receivedAt })), t0);
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
