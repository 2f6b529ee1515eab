import { describe, expect, it } from 'vitest';
import { printable } from '../src/hook.js';

// Names and versions from an author's package.json, before they are printed
// (the notice, INSTALL_BEACON_DEBUG, explain): SECURITY.md's "Package metadata".

describe('printable', () => {
  it.each([
    ['acme-lib', 'acme-lib'],
    ['a\nb', 'a\ufffdb'],
    ['a\r\nb', 'a\ufffd\ufffdb'],
    ['\u001b[31mred\u001b[0m', '\ufffd[31mred\ufffd[0m'],
    ['\u0000nul\u007f\u009b', '\ufffdnul\ufffd\ufffd'],
    ['abc\u202edcba\u2066x\u2069\u200e', 'abc\ufffddcba\ufffdx\ufffd\ufffd'],
    ['ünïcödé 名前', 'ünïcödé 名前'],
    [undefined, ''],
  ])('replaces control characters and bidirectional overrides: %j → %j', (text, expected) => {
    expect(printable(text)).toBe(expected);
  });

  it('caps the text at 100 characters (counting code points), marking the cut', () => {
    expect(printable('x'.repeat(100))).toBe('x'.repeat(100));
    expect(printable('x'.repeat(10_000))).toBe(`${'x'.repeat(100)}…`);
    expect(Array.from(printable('😀'.repeat(150)))).toHaveLength(101);
  });
});
