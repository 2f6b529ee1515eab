// The request path: a read (the read API in api.ts: npm's download-counts shapes, badges; the
// dashboard; /healthz) or an event (ingest.ts, the ingest pipeline).
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createApi, isApiPath, json } from './api.js';
import { CSP, CSS, dashboardPage, FAVICON, FIELDS_SHOWN, PICKER, SERIES, TOP, emptyPage, parseView, tokenPage, viewUrl, type Page, type TokenProblem } from './dashboard.js';
import type { Batcher } from './batcher.js';
import { dayNumber, dayString } from './periods.js';
import { createHealth } from './health.js';
import { createIngest } from './ingest.js';
import { createLimiter, senderKey, WINDOW_MS } from './ratelimit.js';
import { newSession, SESSION_COOKIE, SESSION_SECONDS, sessionFrom, validSession } from './session.js';
import { FIELDS, type Route } from './routes.js';
import { utcDay, type NewEvent, type Storage } from './storage/types.js';

export interface AppOptions {
  routes: readonly Route[];
  storage: Storage;
  /** Where the dashboard reads (a second SQLite connection, so a long filtered scan never holds up ingest's commits); default `storage`. */
  dashboardStorage?: Storage;
  /** The read token; undefined with --public. */
  token: string | undefined;
  rateLimit: number;
  trustProxy: boolean;
  now?: () => number;
  /** An unacknowledged request gets 503 after this long (the database hangs). */
  ackTimeoutMs?: number;
  /** Where a fault's start and end are logged (one line each); default stderr. */
  log?: (line: string) => void;
  batch?: { maxBatch?: number; lingerMs?: number; maxQueue?: number; concurrency?: number };
}

export interface App {
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** Each item is one request's events. */
  batcher: Batcher<NewEvent[]>;
  /** Why each rejected request was rejected (counts per reason). */
  rejected: Record<string, number>;
  close(): Promise<void>;
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();
/** Wrong read tokens a sender may try per minute before every token it sends is refused with 429. */
export const TOKEN_GUESSES = 10;
/** The sign-in form's body, at most. */
const SIGN_IN_BYTES = 4096;

export function createApp(o: AppOptions): App {
  const now = o.now ?? Date.now;
  const ackTimeoutMs = o.ackTimeoutMs ?? 1000;
  // A commit (or probe) is stuck after twice the ack deadline: one slow commit on a busy machine is no fault.
  const health = createHealth({ log: o.log ?? ((line) => process.stderr.write(line + '\n')), now: Date.now, stallMs: 2 * ackTimeoutMs, inFlightSince: () => batcher.inFlightSince, probe: () => o.storage.ping() });
  const ingest = createIngest({ routes: o.routes, storage: o.storage, rateLimit: o.rateLimit, trustProxy: o.trustProxy, now, ackTimeoutMs, batch: o.batch, onOutcome: (x) => health.observe(x) });
  const { batcher } = ingest;
  const watch = setInterval(health.tick, 250);
  watch.unref();
  const tokenDigest = o.token === undefined ? undefined : digest(o.token);

  const sender = (req: IncomingMessage) => senderKey(req.socket.remoteAddress, req.headers['x-forwarded-for'], o.trustProxy);
  // Wrong read tokens, per sender per minute (the same senders and window): past TOKEN_GUESSES,
  // every token from that sender is refused (429) before it is compared, right or wrong.
  const guesses = createLimiter({ limit: TOKEN_GUESSES, now });
  const forgetGuesses = setInterval(() => guesses.sweep(), WINDOW_MS / 6);
  forgetGuesses.unref();

  function text(res: ServerResponse, req: IncomingMessage, status: number, body: string, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body), ...headers });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  /** A token given (the bearer header's, or the sign-in form's): right, wrong, or throttled (this sender's wrong ones are used up). */
  function checkToken(req: IncomingMessage, given: string): 'ok' | TokenProblem {
    if (tokenDigest === undefined) return 'ok';
    const key = sender(req);
    if (guesses.spent(key)) return 'throttled';
    if (timingSafeEqual(digest(given), tokenDigest)) return 'ok';
    guesses.limited(key);
    return 'wrong';
  }
  const bearer = (req: IncomingMessage): string | undefined => /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
  /** The read API's check: 'ok', or the answer to give. */
  function authorized(req: IncomingMessage): 'ok' | 'none' | TokenProblem {
    if (tokenDigest === undefined) return 'ok';
    const given = bearer(req);
    return given === undefined ? 'none' : checkToken(req, given);
  }

  const today = () => utcDay(now());
  const api = createApi({ storage: o.storage, today, authorized });

  async function read(req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams): Promise<void> {
    if (isApiPath(path)) return api(req, res, path, query);
    if (req.method === 'POST' && path === '/') return signIn(req, res);
    if (req.method === 'POST' && path === '/sign-out') return redirect(res, '/', { 'set-cookie': `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0` });
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, req, 405, { error: 'only GET and HEAD are accepted' }, { allow: 'GET, HEAD' });
    if (path === '/healthz') {
      // From the commits and a probe write (health.ts), not from a read that works while writes fail.
      const fault = await health.check();
      if (!fault) return json(res, req, 200, { ok: true, database: o.storage.kind, pending: batcher.pending });
      return json(res, req, 503, { ok: false, database: o.storage.kind, error: `writes are failing: ${fault.reason}`, since: new Date(fault.since).toISOString() });
    }
    if (path === '/dashboard.css' || path === '/favicon.svg') {
      const [type, body] = path === '/favicon.svg' ? ['image/svg+xml', FAVICON] : ['text/css; charset=utf-8', CSS];
      res.writeHead(200, { 'content-type': type, 'cache-control': 'max-age=300', 'content-length': Buffer.byteLength(body) });
      return void res.end(req.method === 'HEAD' ? undefined : body);
    }
    return dashboard(req, res, query);
  }

  function page(req: IncomingMessage, res: ServerResponse, p: Page, headers: Record<string, string> = {}): void {
    res.writeHead(p.status, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'content-security-policy': CSP,
      'referrer-policy': 'no-referrer',
      'x-frame-options': 'DENY',
      'content-length': Buffer.byteLength(p.body),
      ...headers,
    });
    res.end(req.method === 'HEAD' ? undefined : p.body);
  }
  function redirect(res: ServerResponse, location: string, headers: Record<string, string> = {}): void {
    res.writeHead(303, { location, 'cache-control': 'no-store', 'content-length': 0, ...headers });
    res.end();
  }
  /** POST / with the form's `token` (application/x-www-form-urlencoded): a session cookie, and back to the view asked for. */
  async function signIn(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req as AsyncIterable<Buffer>) {
      size += c.length;
      if (size > SIGN_IN_BYTES) return text(res, req, 413, 'the sign-in form is at most 4096 bytes\n', { connection: 'close' });
      chunks.push(c);
    }
    const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    const given = form.get('token') ?? '';
    form.delete('token');
    if (tokenDigest === undefined) return redirect(res, form.size ? `/?${form}` : '/');
    const check = given ? checkToken(req, given) : 'wrong';
    if (check !== 'ok') return page(req, res, tokenPage(check, form), check === 'throttled' ? { 'retry-after': '60' } : {});
    // The session cookie is signed with the token (session.ts): it opens the dashboard only, and expires on the server too.
    const cookie = `${SESSION_COOKIE}=${newSession(o.token!, now())}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${SESSION_SECONDS}`;
    return redirect(res, form.size ? `/?${form}` : '/', { 'set-cookie': `${cookie}${'encrypted' in req.socket && req.socket.encrypted ? '; Secure' : ''}` });
  }
  /** The dashboard: behind the read token (a bearer header, or the session cookie that signing in sets) unless --public. */
  async function dashboard(req: IncomingMessage, res: ServerResponse, query: URLSearchParams): Promise<void> {
    if (tokenDigest !== undefined) {
      // A token in the address is refused, never checked: it is in the proxy's access log and the history already.
      if (query.has('token')) {
        query.delete('token');
        return page(req, res, tokenPage('in-address', query), { 'www-authenticate': 'Bearer' });
      }
      const given = bearer(req);
      const check = given !== undefined ? checkToken(req, given) : hasSession(req) ? 'ok' : undefined;
      if (check !== 'ok') return page(req, res, tokenPage(check, query), { 'www-authenticate': 'Bearer' });
    }
    const t = today();
    const { view, notes } = parseView(query, t);
    if (query.has('ff')) return redirect(res, viewUrl(view));
    const reads = o.dashboardStorage ?? o.storage;
    // Bounded (anyone can send a package name): the PICKER packages with most installs in the view's range, or ever.
    let packages = await reads.topPackages(view.start, view.end, PICKER);
    if (packages.length === 0) packages = await reads.topPackages('0000-01-01', '9999-12-31', PICKER);
    const host = /^[a-z0-9.:[\]-]+$/i.test(req.headers.host ?? '') ? req.headers.host! : '127.0.0.1:7708';
    const origin = `${'encrypted' in req.socket && req.socket.encrypted ? 'https' : 'http'}://${host}`;
    if (packages.length === 0) return page(req, res, emptyPage(o.routes.map((r) => `${origin}${r.display}`)));
    if (view.pkg === undefined || !(await reads.hasPackage(view.pkg))) {
      // Never the text asked for (sender-chosen names stay off the page unless stored), never the first by sorting:
      // the author's own package (a route's PACKAGE=) when it has installs, else the one with most installs.
      if (view.pkg !== undefined) notes.push('no installs of the package asked for are stored; showing the one with most installs');
      const own = o.routes.map((r) => r.package).find((p) => p !== undefined && packages.some(([q]) => q === p));
      view.pkg = own ?? packages[0]![0];
    }
    const monthStart = dayString(dayNumber(t)! - 29);
    const rows = await reads.cube(view.pkg, view.start, view.end, view.filters, SERIES, TOP, FIELDS_SHOWN);
    // The totals for the last day, week and month, unless the view's range already covers them.
    const totals = view.start <= monthStart && view.end >= t ? rows : await reads.cube(view.pkg, monthStart, t, view.filters, null);
    return page(req, res, dashboardPage({ fields: FIELDS, packages, view, notes, today: t, rows, totals, signOut: tokenDigest !== undefined && bearer(req) === undefined }));
  }
  function hasSession(req: IncomingMessage): boolean {
    return o.token !== undefined && validSession(o.token, sessionFrom(req.headers.cookie), now());
  }

  /** A read failed in the database (or anything threw): answer 503, never crash. */
  function failed(req: IncomingMessage, res: ServerResponse): void {
    if (!res.headersSent) {
      res.setHeader('x-content-type-options', 'nosniff');
      json(res, req, 503, { error: 'the database is unavailable; retry later' });
    } else res.destroy();
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    // A read path is never an event, whatever the routes; an API path may be long (npm's bulk lookups: 128 names).
    const isRead = (path === '/' || path === '/sign-out' || path === '/dashboard.css' || path === '/favicon.svg' || path === '/healthz') && url.length <= 2048;
    // Every answer, whatever its type: no browser may sniff a badge, a page or an error into something else
    // (ingest's answers say it in their own headers, ingest.ts).
    let work: void | Promise<void>;
    try {
      work = isRead || isApiPath(path) ? (res.setHeader('x-content-type-options', 'nosniff'), read(req, res, path, new URLSearchParams(q === -1 ? '' : url.slice(q + 1)))) : ingest.handle(req, res, url);
    } catch {
      return failed(req, res);
    }
    work?.catch(() => failed(req, res));
  }

  return {
    handle,
    batcher,
    rejected: ingest.rejected,
    close: () => {
      clearInterval(forgetGuesses);
      clearInterval(watch);
      return ingest.close();
    },
  };
}
