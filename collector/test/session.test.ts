import { describe, expect, it } from 'vitest';
import { newSession, SESSION_COOKIE, SESSION_SECONDS, sessionFrom, validSession } from '../src/session.js';

// The dashboard's session cookie (src/session.ts): signed with the token, one
// value per sign-in, expiring on the server.

const TOKEN = 'a-read-token';
const T0 = Date.UTC(2026, 10, 26, 12, 0, 0);
const DAY = 24 * 3600 * 1000;

describe('dashboard sessions', () => {
  const value = newSession(TOKEN, T0);
  const [expiry, nonce, signature] = value.split('.') as [string, string, string];
  const flip = (s: string) => (s[0] === 'A' ? 'B' : 'A') + s.slice(1);

  it.each([
    ['a fresh session', value, T0, true],
    ['a day before it expires', value, T0 + (SESSION_SECONDS * 1000 - DAY), true],
    ['a millisecond before it expires', value, T0 + SESSION_SECONDS * 1000 - 1, true],
    ['at its expiry', value, T0 + SESSION_SECONDS * 1000, false],
    ['a later expiry with the same signature', `${Number(expiry) + 1}.${nonce}.${signature}`, T0, false],
    ['another nonce with the same signature', `${expiry}.${flip(nonce)}.${signature}`, T0, false],
    ['without its nonce', `${expiry}.${signature}`, T0, false],
    ['a signature changed in one character', `${expiry}.${nonce}.${flip(signature)}`, T0, false],
    ['a signature one character short', `${expiry}.${nonce}.${signature.slice(1)}`, T0, false],
    ['signed with another token', newSession('another-token', T0), T0, false],
    ['the token itself', TOKEN, T0, false],
    ['empty', '', T0, false],
    ['missing', undefined, T0, false],
    ['no signature', `${expiry}.${nonce}.`, T0, false],
    ['a huge expiry', `${'9'.repeat(40)}.${nonce}.${signature}`, T0, false],
  ])('%s → %s', (_name, v, now, ok) => {
    expect(validSession(TOKEN, v, now)).toBe(ok);
  });

  it('holds neither the token nor anything equal across sign-ins at different times', () => {
    expect(value).not.toContain(TOKEN);
    expect(newSession(TOKEN, T0 + 1000)).not.toBe(value);
    // Two sign-ins in the same millisecond: each its own value (a random nonce), both valid.
    const [a, b] = [newSession(TOKEN, T0), newSession(TOKEN, T0)];
    expect(a).not.toBe(b);
    expect([validSession(TOKEN, a, T0), validSession(TOKEN, b, T0)]).toEqual([true, true]);
    expect(Number(expiry)).toBe(T0 / 1000 + SESSION_SECONDS);
  });

  it.each([
    [`${SESSION_COOKIE}=abc`, 'abc'],
    [`theme=dark; ${SESSION_COOKIE}=abc; other=1`, 'abc'],
    [`x${SESSION_COOKIE}=abc`, undefined],
    ['theme=dark', undefined],
    [undefined, undefined],
  ])('sessionFrom(%j) → %j', (header, expected) => {
    expect(sessionFrom(header)).toBe(expected);
  });
});
