// The ingest rate limit, pure: who a request counts against (senderKey), and a
// fixed one-minute window of counts per sender whose memory is bounded (createLimiter).
//
// Who is "one sender": an IPv4 address, or an IPv6 /64. One IPv6 host usually holds a
// whole /64 (SLAAC, privacy addresses), so counting IPv6 addresses one by one would let
// it rotate through 2^64 budgets; the /64 is the unit providers hand to one subscriber.
// An IPv4-mapped IPv6 address (::ffff:1.2.3.4, what Node reports for an IPv4 peer on a
// dual-stack socket) is that IPv4 address.

/** The key for anything that is not an IP address: all such requests share one budget (any string no address maps to). */
export const INVALID_KEY = 'invalid';

/** At most this many senders are tracked per window by default (about 10 MB of keys and counts). */
export const MAX_KEYS = 100_000;

export const WINDOW_MS = 60_000;

/** `1.2.3.4` as four bytes; undefined unless it is exactly a dotted quad (no leading zeros: 010 could mean octal). */
function ipv4Bytes(s: string): number[] | undefined {
  const m = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/.exec(s);
  if (!m) return undefined;
  const bytes = m.slice(1).map(Number);
  return bytes.every((b) => b <= 255) ? bytes : undefined;
}

/** An IPv6 address (no brackets, no zone) as its eight 16-bit groups; undefined if it is not one. */
function ipv6Groups(s: string): number[] | undefined {
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const groups = (part: string, last: boolean): number[] | undefined => {
    if (part === '') return [];
    const out: number[] = [];
    const pieces = part.split(':');
    for (const [i, p] of pieces.entries()) {
      // The last 32 bits may be written as a dotted quad (::ffff:1.2.3.4, 64:ff9b::1.2.3.4).
      const v4 = last && i === pieces.length - 1 ? ipv4Bytes(p) : undefined;
      if (v4) out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      else if (/^[0-9a-f]{1,4}$/i.test(p)) out.push(parseInt(p, 16));
      else return undefined;
    }
    return out;
  };
  const compressed = halves.length === 2;
  const head = groups(halves[0]!, !compressed);
  const tail = compressed ? groups(halves[1]!, true) : [];
  if (!head || !tail) return undefined;
  const given = head.length + tail.length;
  // "::" stands for one or more zero groups; without it all eight must be written.
  if (compressed ? given > 7 : given !== 8) return undefined;
  return [...head, ...Array<number>(8 - given).fill(0), ...tail];
}

/**
 * The rate-limit key for an address as a socket or a proxy reports it: `1.2.3.4` as is;
 * `::ffff:1.2.3.4` (any spelling) as `1.2.3.4`; any other IPv6 address as its /64,
 * `2001:db8:0:7::/64`, the same for every spelling, with or without a zone id (`%eth0`)
 * or brackets; a port after an address (`1.2.3.4:5678`, `[2001:db8::1]:443`, as some proxies
 * write X-Forwarded-For) is dropped. Anything else is INVALID_KEY. Never throws.
 */
export function addressKey(address: string): string {
  let s = address.trim();
  const bracketed = /^\[([^\]]*)\](?::\d{1,5})?$/.exec(s);
  if (bracketed) s = bracketed[1]!;
  else {
    const withPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/.exec(s);
    if (withPort) s = withPort[1]!;
  }
  if (ipv4Bytes(s)) return s;
  const zone = s.indexOf('%');
  const g = ipv6Groups(zone === -1 ? s : s.slice(0, zone));
  if (!g) return INVALID_KEY;
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) return [g[6]! >> 8, g[6]! & 255, g[7]! >> 8, g[7]! & 255].join('.');
  return `${g.slice(0, 4).map((x) => x.toString(16)).join(':')}::/64`;
}

/**
 * Whom a request counts against: the socket's peer, or with `trustProxy` the last
 * X-Forwarded-For entry (the one our own proxy appended; earlier entries are the client's
 * word), falling back to the peer when the header is absent or empty.
 */
export function senderKey(remoteAddress: string | undefined, forwardedFor: string | string[] | undefined, trustProxy: boolean): string {
  if (trustProxy && forwardedFor !== undefined) {
    const entries = String(forwardedFor).split(',').map((s) => s.trim()).filter(Boolean);
    const last = entries[entries.length - 1];
    if (last !== undefined) return addressKey(last);
  }
  return remoteAddress === undefined ? INVALID_KEY : addressKey(remoteAddress);
}

export interface LimiterOptions {
  /** Requests per sender per window (at least 1; the app does not build a limiter for `--rate-limit 0`). */
  limit: number;
  now: () => number;
  /** Senders tracked per window, at most (default MAX_KEYS). */
  maxKeys?: number;
  /** Requests per window that every sender not tracked shares, once `maxKeys` are tracked (default `limit`). */
  overflowLimit?: number;
  windowMs?: number;
}

export interface Limiter {
  /** Count `events` (default 1) from `key`; true when they take it over its budget (answer 429). */
  limited(key: string, events?: number): boolean;
  /** Has `key` used up its budget in this window (counts nothing)? */
  spent(key: string): boolean;
  /** Start a new window if this one is over (so keys are forgotten even when no request comes). */
  sweep(): void;
  /** Senders tracked in this window (never more than maxKeys). */
  readonly tracked: number;
  /** Requests counted against the shared overflow budget in this window. */
  readonly overflowed: number;
}

/**
 * A fixed window per sender. Memory is bounded: at most `maxKeys` senders are tracked in a
 * window. Once that many are, a sender not yet tracked is not added: it counts against one
 * overflow budget shared by all of them, so a flood of fresh addresses is limited as a group
 * (as if it were one more sender), while every sender already tracked keeps its own count.
 * Everything is forgotten when the window rolls. A clock that goes back starts a new window
 * rather than holding the current one open.
 */
export function createLimiter(o: LimiterOptions): Limiter {
  const windowMs = o.windowMs ?? WINDOW_MS;
  const maxKeys = o.maxKeys ?? MAX_KEYS;
  const overflowLimit = o.overflowLimit ?? o.limit;
  let start = o.now();
  let counts = new Map<string, number>();
  let overflow = 0;
  const roll = (t: number) => {
    if (t - start >= windowMs || t < start) {
      start = t;
      counts = new Map();
      overflow = 0;
    }
  };
  return {
    limited(key, events = 1) {
      roll(o.now());
      const n = counts.get(key);
      if (n !== undefined || counts.size < maxKeys) {
        const next = (n ?? 0) + events;
        counts.set(key, next);
        return next > o.limit;
      }
      overflow += events;
      return overflow > overflowLimit;
    },
    spent(key) {
      roll(o.now());
      const n = counts.get(key);
      return n !== undefined || counts.size < maxKeys ? (n ?? 0) >= o.limit : overflow >= overflowLimit;
    },
    sweep: () => roll(o.now()),
    get tracked() {
      return counts.size;
    },
    get overflowed() {
      return overflow;
    },
  };
}
