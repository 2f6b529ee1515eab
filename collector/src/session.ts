import { createHmac, timingSafeEqual } from 'node:crypto';

// The dashboard's session cookie: `<expiry>.<signature>`, where the signature
// is an HMAC-SHA256 of the expiry keyed by the read token. Each sign-in gets
// its own value, which stops working at its expiry on the server (not only in
// the browser, which a copied cookie ignores) and at once when the token
// changes. It holds nothing the token could be recovered from, and instances
// that share a token accept each other's sessions.

export const SESSION_COOKIE = 'ibc_session';
/** 30 days, as the cookie's Max-Age. */
export const SESSION_SECONDS = 30 * 24 * 3600;

const sign = (token: string, expiry: number): string => createHmac('sha256', token).update(`install-beacon-collector dashboard session\0${expiry}`).digest('base64url');

/** A new session's cookie value, valid until `nowMs` + SESSION_SECONDS. */
export function newSession(token: string, nowMs: number): string {
  const expiry = Math.floor(nowMs / 1000) + SESSION_SECONDS;
  return `${expiry}.${sign(token, expiry)}`;
}

/** Is `value` a session this token signed that has not expired at `nowMs`? Never throws. */
export function validSession(token: string, value: string | undefined, nowMs: number): boolean {
  const m = /^(\d{1,12})\.([\w-]{43})$/.exec(value ?? '');
  if (!m) return false;
  const expiry = Number(m[1]);
  if (expiry * 1000 <= nowMs) return false;
  return timingSafeEqual(Buffer.from(m[2]!), Buffer.from(sign(token, expiry)));
}

/** The session cookie's value in a Cookie header, if any. */
export function sessionFrom(cookieHeader: string | undefined): string | undefined {
  return new RegExp(`(?:^|;\\s*)${SESSION_COOKIE}=([^;]*)`).exec(cookieHeader ?? '')?.[1];
}
