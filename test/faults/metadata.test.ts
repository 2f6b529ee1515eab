import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bound, config, expectClean, expectEvents, privacyCase, expectOnlyMarkerWritten, hookEnv, makeTree,
  removeTrees, runHook, quiet, SKIP_BOUND, snapshot, writeResults, type Tree,
} from './harness.js';
import { closeAll, httpServer, type FaultServer } from './servers.js';

// Hostile or broken package metadata: the author's name and version are
// whatever their package.json says. Each value must arrive percent-encoded
// inside its own path segment or query parameter, with no header or path
// injection, and nothing the hook prints may carry it raw to the terminal.

const TIMEOUT = 1000;
const trees: Tree[] = [];
let collector: FaultServer;

beforeAll(async () => {
  collector = await httpServer();
});
afterAll(async () => {
  await closeAll();
  removeTrees();
  writeResults('metadata');
});

const HOSTILE: Array<[string, string]> = [
  ['a slash', 'evil/../../admin'],
  ['dot-dot', '..'],
  ['a single dot', '.'],
  ['a question mark', 'x?admin=1&y=2'],
  ['a hash', 'x#fragment'],
  ['percent escapes', '%2F%2E%2E%00%zz'],
  ['spaces', 'a b  c'],
  ['a newline', 'line\nbreak'],
  ['CRLF header injection', 'x\r\nX-Injected: yes\r\n\r\nGET /smuggled HTTP/1.1'],
  ['a NUL and control characters', 'a\u0000b\u0007c\u0008d\u007f'],
  ['an ANSI escape', '\u001b[31mred\u001b[0m\u001b]0;title\u0007'],
  ['unicode', 'ünïcødé-пакет-包-📦'],
  ['a lone surrogate', 'a\ud800b'],
  ['10 kB of characters', 'n'.repeat(10_240)],
  ['10 kB of multi-byte characters', '📦'.repeat(5_120)],
  ['ampersands and equals', 'a=b&c=d;e'],
  ['a backslash', '..\\..\\windows'],
  ['an empty string', ''],
];

/** What a value should decode to: lone surrogates as U+FFFD, at most 200 code points, "unknown" when empty. */
function expected(value: string): string {
  const fixed = value.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
  if (fixed === '') return 'unknown';
  return Array.from(fixed).slice(0, 200).join('');
}

const ALLOWED_HEADERS = ['host', 'user-agent', 'accept', 'connection'];

describe('hostile names and versions', () => {
  for (const [what, value] of HOSTILE) {
    it(`${what}: encoded, kept in its segment, no injection`, async () => {
      collector.requests.length = 0;
      const version = `1.0.0-${value}`;
      const t = makeTree({
        pkgJsonText: JSON.stringify({ name: value, version, installBeacon: config(`${collector.base}/e/{name}/{version}/end?n={name}&v={version}&p={platform}`, 'inline', TIMEOUT) }),
      });
      trees.push(t);
      const before = snapshot(t.root);
      const r = await runHook(t, { env: hookEnv(t) });
      expectClean(r, bound(TIMEOUT), 'notice');
      await quiet(collector);
      expectEvents(collector.requests.length, 1);
      const req = collector.requests[0]!;

      // The request line is printable ASCII with exactly the template's shape.
      const [requestLine, ...headerLines] = req.head.split('\r\n');
      expect(requestLine).toMatch(/^GET \/e\/[\x21-\x7e]+ HTTP\/1\.1$/);
      const m = /^GET \/e\/([^/?#\s]+)\/([^/?#\s]+)\/end\?n=([^&#\s]+)&v=([^&#\s]+)&p=linux HTTP\/1\.1$/.exec(requestLine!);
      expect(m, `request line: ${requestLine}`).not.toBeNull();
      const [, seg1, seg2, q1, q2] = m!;
      for (const part of [seg1, seg2, q1, q2]) expect(part).not.toMatch(/^\.{1,2}$/); // never a dot segment
      expect(decodeURIComponent(seg1!)).toBe(expected(value));
      expect(decodeURIComponent(q1!)).toBe(expected(value));
      expect(decodeURIComponent(seg2!)).toBe(expected(version));
      expect(decodeURIComponent(q2!)).toBe(expected(version));

      // Only the documented headers, none carrying the value.
      expect(headerLines.map((l) => l.split(':')[0]!.toLowerCase()).sort()).toEqual([...ALLOWED_HEADERS].sort().filter((h) => headerLines.some((l) => l.toLowerCase().startsWith(`${h}:`))));
      for (const h of ['host', 'user-agent', 'accept']) expect(req.headers[h]).toBeDefined();
      expect(req.headers['x-injected']).toBeUndefined();
      expect(collector.requests.map((q) => q.url.split('/')[1])).toEqual(['e']); // no second, smuggled request

      // The one notice line: no control characters from the value, bounded length.
      const line = r.stderr.replace(/\n$/, '');
      expect(line).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
      expect(Array.from(line).length).toBeLessThanOrEqual(500);

      // The marker is a plain file inside node_modules/.install-beacon/.
      expectOnlyMarkerWritten(t, before, 1);
    });
  }
});

describe("the author's URL template", () => {
  it('non-ASCII text in the path and query is sent percent-encoded as UTF-8', async () => {
    collector.requests.length = 0;
    const t = makeTree({ installBeacon: config(`${collector.base}/ü/📦/{name}?q=é`, 'inline', TIMEOUT) });
    trees.push(t);
    const before = snapshot(t.root);
    const r = await runHook(t, { env: hookEnv(t) });
    expectClean(r, bound(TIMEOUT), 'notice');
    await quiet(collector);
    expectEvents(collector.requests.length, 1);
    const requestLine = collector.requests[0]!.head.split('\r\n')[0]!;
    expect(requestLine).toMatch(/^GET [\x21-\x7e]+ HTTP\/1\.1$/);
    expect(decodeURIComponent(requestLine.split(' ')[1]!)).toBe('/ü/📦/acme-lib?q=é');
    expectOnlyMarkerWritten(t, before, 1);
  });

  it('a template with control characters or spaces is refused: silent skip', async () => {
    collector.requests.length = 0;
    for (const url of [`${collector.base}/a\r\nX-Injected: 1/{name}`, `${collector.base}/a b/{name}`, `${collector.base}/\u0000/{name}`]) {
      const t = makeTree({ installBeacon: config(url, 'inline', TIMEOUT) });
      trees.push(t);
      const before = snapshot(t.root);
      const r = await runHook(t, { env: hookEnv(t) });
      expectClean(r, SKIP_BOUND, 'silent');
      expectOnlyMarkerWritten(t, before, 0);
    }
    await quiet(collector);
    expectEvents(collector.requests.length, 0);
  });
});

privacyCase(trees);
