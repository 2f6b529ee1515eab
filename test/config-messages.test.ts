import { describe, expect, it } from 'vitest';
import { KNOWN_KEYS, parseConfig, TIMEOUT_RANGE } from '../src/config.js';

// What `check` and `explain` tell an author about a bad config: each message
// names the setting at fault and every value that would have been accepted.

const URL_T = 'https://e.com/{name}';
const errors = (raw: unknown, positional?: string): string[] => {
  const r = parseConfig(raw, positional);
  expect(r.ok).toBe(false);
  return r.ok ? [] : r.errors;
};

describe('config messages', () => {
  it('an unknown key: the warning lists every known key', () => {
    const r = parseConfig({ url: URL_T, endpoint: 'x' });
    expect(r.warnings).toHaveLength(1);
    for (const key of KNOWN_KEYS) expect(r.warnings[0]).toContain(key);
    expect(r.warnings[0]).toMatch(/^unknown key "installBeacon\.endpoint" is ignored \(known: url, ci, delivery, timeoutMs, enabled\)$/);
  });

  it('a bad template in package.json is named as "installBeacon.url", one on the command line as the URL argument', () => {
    expect(errors({ url: 'https://e.com/{bogus}' })).toEqual([expect.stringMatching(/^"installBeacon\.url": unknown variable \{bogus\}/)]);
    expect(errors(undefined, 'https://e.com/{bogus}')).toEqual([expect.stringMatching(/^the URL argument: unknown variable \{bogus\}/)]);
  });

  it('a bad delivery: the error lists every accepted value, quoted', () => {
    expect(errors({ url: URL_T, delivery: 'later' })).toEqual(['"installBeacon.delivery" must be one of "auto", "background", "inline"']);
  });

  it.each([150.5, 1500.25, 9999.9])('timeoutMs %d (in range, not whole) is refused', (timeoutMs) => {
    expect(errors({ url: URL_T, timeoutMs })).toEqual([
      `"installBeacon.timeoutMs" must be a whole number of milliseconds from ${TIMEOUT_RANGE.min} to ${TIMEOUT_RANGE.max}`,
    ]);
  });
});
