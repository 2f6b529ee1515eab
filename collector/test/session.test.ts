import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { newSession, SESSION_COOKIE, SESSION_SECONDS, sessionFrom, validSession } from '../src/session.js';

// The dashboard's session cookie (src/session.ts): signed with the token, one
// value per sign-in, expiring on the server.

const TOKEN = 'a-read-token';
const T0 = Date.UTC(2026, 10, 26, 12, 0, 0);
const DAY = 24 * 3600 * 1000;

describe('dashboard sessions', () => {
  // Every value is made inside its test (a session made while the file is collected would run before Stryker
  // activates a mutant, so no test could see a mutant of newSession).
  type Parts = { value: string; expiry: string; nonce: string; signature: string };
  const parts = (): Parts => {
    const value = newSession(TOKEN, T0);
    const [expiry, nonce, signature] = value.split('.') as [string, string, string];
    return { value, expiry, nonce, signature };
  };
  const flip = (s: string) => (s[0] === 'A' ? 'B' : 'A') + s.slice(1);

  it.each(([
    ['a fresh session', (p) => p.value, T0, true],
    ['a day before it expires', (p) => p.value, T0 + (SESSION_SECONDS * 1000 - DAY), true],
    ['a millisecond before it expires', (p) => p.value, T0 + SESSION_SECONDS * 1000 - 1, true],
    ['at its expiry', (p) => p.value, T0 + SESSION_SECONDS * 1000, false],
    ['a later expiry with the same signature', (p) => `${Number(p.expiry) + 1}.${p.nonce}.${p.signature}`, T0, false],
    ['another nonce with the same signature', (p) => `${p.expiry}.${flip(p.nonce)}.${p.signature}`, T0, false],
    ['without its nonce', (p) => `${p.expiry}.${p.signature}`, T0, false],
    ['a signature changed in one character', (p) => `${p.expiry}.${p.nonce}.${flip(p.signature)}`, T0, false],
    ['a signature one character short', (p) => `${p.expiry}.${p.nonce}.${p.signature.slice(1)}`, T0, false],
    ['text before a valid value', (p) => `x${p.value}`, T0, false],
    ['text after a valid value', (p) => `${p.value}x`, T0, false],
    ['signed with another token', () => newSession('another-token', T0), T0, false],
    ['the token itself', () => TOKEN, T0, false],
    ['empty', () => '', T0, false],
    ['missing', () => undefined, T0, false],
    ['no signature', (p) => `${p.expiry}.${p.nonce}.`, T0, false],
    ['a huge expiry', (p) => `${'9'.repeat(40)}.${p.nonce}.${p.signature}`, T0, false],
  ] as Array<[string, (p: Parts) => string | undefined, number, boolean]>).map(([name, make, now, ok]) => ({ name, make, now, ok })))(
    // The name holds no cookie value: the nonce is random, and a test's name must be the same in every run
    // (Stryker maps mutants to tests by name).
    '$name → valid: $ok',
    ({ make, now, ok }) => {
      expect(validSession(TOKEN, make(parts()), now)).toBe(ok);
    },
  );

  it('is `<expiry>.<nonce>.<signature>`: the expiry 30 days on in seconds, 16 random bytes, an HMAC-SHA256 of both keyed by the token', () => {
    expect(SESSION_SECONDS).toBe(2_592_000);
    const { value, expiry, nonce, signature } = parts();
    expect(value).toMatch(/^\d+\.[\w-]{22}\.[\w-]{43}$/);
    expect(Number(expiry)).toBe(T0 / 1000 + SESSION_SECONDS);
    expect(signature).toBe(createHmac('sha256', TOKEN).update(`install-beacon-collector dashboard session\0${expiry}\0${nonce}`).digest('base64url'));
    // A nonce given (tests only) is used as it is.
    expect(newSession(TOKEN, T0, 'n'.repeat(22)).split('.')[1]).toBe('n'.repeat(22));
  });

  it('holds neither the token nor anything equal across sign-ins at different times', () => {
    const { value } = parts();
    expect(value).not.toContain(TOKEN);
    expect(newSession(TOKEN, T0 + 1000)).not.toBe(value);
    // Two sign-ins in the same millisecond: each its own value (a random nonce), both valid.
    const [a, b] = [newSession(TOKEN, T0), newSession(TOKEN, T0)];
    expect(a).not.toBe(b);
    expect([validSession(TOKEN, a, T0), validSession(TOKEN, b, T0)]).toEqual([true, true]);
  });

  it.each([
    [`${SESSION_COOKIE}=abc`, 'abc'],
    [`theme=dark; ${SESSION_COOKIE}=abc; other=1`, 'abc'],
    [`x${SESSION_COOKIE}=abc`, undefined],
    ['theme=dark', undefined],
    [undefined, undefined],
    ['', undefined],
  ])('sessionFrom(%j) → %j', (header, expected) => {
    expect(sessionFrom(header)).toBe(expected);
  });

  it('the cookie is named ibc_session', () => expect(SESSION_COOKIE).toBe('ibc_session'));
});
