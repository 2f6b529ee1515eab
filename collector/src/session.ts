import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

// The dashboard's session cookie: `<expiry>.<nonce>.<signature>`, where the
// nonce is 16 random bytes of its own and the signature an HMAC-SHA256 of the
// expiry and nonce keyed by the read token. Each sign-in gets its own value
// (two in the same second too), which stops working at its expiry on the
// server (not only in the browser, which a copied cookie ignores) and at once
// when the token changes. It holds nothing the token could be recovered from,
// and instances that share a token accept each other's sessions.
//
// Signing out clears the cookie in that browser. There is no server-side list
// of sessions to revoke one from: a revocation that holds across restarts and
// across the PostgreSQL instances that share a token would cost a database read
// on every dashboard request. Changing the token revokes every session at once.

export const SESSION_COOKIE = 'ibc_session';
/** 30 days, as the cookie's Max-Age. */
export const SESSION_SECONDS = 30 * 24 * 3600;

const sign = (token: string, expiry: number, nonce: string): string =>
  createHmac('sha256', token).update(`install-beacon-collector dashboard session\0${expiry}\0${nonce}`).digest('base64url');

/** A new session's cookie value, valid until `nowMs` + SESSION_SECONDS; `nonce` is random unless given (tests). */
export function newSession(token: string, nowMs: number, nonce = randomBytes(16).toString('base64url')): string {
  const expiry = Math.floor(nowMs / 1000) + SESSION_SECONDS;
  return `${expiry}.${nonce}.${sign(token, expiry, nonce)}`;
}

/** Is `value` a session this token signed that has not expired at `nowMs`? Never throws. */
export function validSession(token: string, value: string | undefined, nowMs: number): boolean {
  const m = /^(\d{1,12})\.([\w-]{22})\.([\w-]{43})$/.exec(value ?? '');
  if (!m) return false;
  const expiry = Number(m[1]);
  if (expiry * 1000 <= nowMs) return false;
  return timingSafeEqual(Buffer.from(m[3]!), Buffer.from(sign(token, expiry, m[2]!)));
}

/** The session cookie's value in a Cookie header, if any. */
export function sessionFrom(cookieHeader: string | undefined): string | undefined {
  return new RegExp(`(?:^|;\\s*)${SESSION_COOKIE}=([^;]*)`).exec(cookieHeader ?? '')?.[1];
}
