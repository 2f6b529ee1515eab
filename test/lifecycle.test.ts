import { describe, expect, it } from 'vitest';
import { findInvocations, RECOMMENDED_LINE, tokenize } from '../src/lifecycle.js';
import { positionalFromScripts, usesBeacon } from '../src/scan.js';

// How `check` and `explain` read an author's install scripts: as a shell runs them.

describe('tokenize: words and operators as sh sees them', () => {
  it.each([
    ['install-beacon || exit 0', ['install-beacon', '||', 'exit', '0']],
    ['install-beacon http://h/?a=1&b=2', ['install-beacon', 'http://h/?a=1', '&', 'b=2']],
    ['install-beacon "http://h/?a=1&b=2"', ['install-beacon', 'http://h/?a=1&b=2']],
    ["install-beacon 'http://h/?a=1&b=2'", ['install-beacon', 'http://h/?a=1&b=2']],
    ['install-beacon http://h/?a=1\\&b=2', ['install-beacon', 'http://h/?a=1&b=2']],
    ['a&&b;c|d', ['a', '&&', 'b', ';', 'c', '|', 'd']],
    ['say "a \\"b\\""', ['say', 'a "b"']],
  ])('%s', (script, expected) => {
    expect(tokenize(script).map((t) => ('op' in t ? t.op : t.word))).toEqual(expected);
  });
});

describe('findInvocations: what check calls an error', () => {
  const errorsOf = (postinstall: string) => findInvocations({ postinstall }).flatMap((i) => i.errors);
  it.each([
    [RECOMMENDED_LINE],
    ['node build.js && install-beacon || exit 0'],
    ['install-beacon "https://e.com/{name}?ci={ci}&pm={pm}" || exit 0'],
    ['install-beacon https://e.com/{name}/{version} || exit 0'],
  ])('%s: no error', (line) => {
    expect(errorsOf(line)).toEqual([]);
  });

  it.each([
    ['install-beacon', /fails the user's whole install .* end it with "\|\| exit 0"/],
    ['install-beacon || true', /fails the user's whole install/], // cmd.exe has no `true`
    ['install-beacon && echo done', /fails the user's whole install/],
    ['install-beacon https://e.com/{name}?ci={ci}&pm={pm} || exit 0', /the shell cuts the URL at "&" \(it passes only https:\/\/e\.com\/\{name\}\?ci=\{ci\}, and runs the hook in the background\)/],
    ['install-beacon https://e.com/{name};x || exit 0', /the shell cuts the URL at ";"/],
    ["install-beacon 'https://e.com/{name}' || exit 0", /single quotes, which Windows cmd\.exe does not treat as quotes/],
    ['npx install-beacon || exit 0', /"npx install-beacon" may download install-beacon from the registry/],
    ['npm exec install-beacon || exit 0', /"exec install-beacon" may download/],
    ['yarn dlx install-beacon || exit 0', /"dlx install-beacon" may download/],
  ])('%s: an error', (line, message) => {
    const errors = errorsOf(line);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(message);
  });

  it('reads preinstall and install too, and ignores other scripts', () => {
    const found = findInvocations({ preinstall: 'install-beacon', install: RECOMMENDED_LINE, test: 'install-beacon' });
    expect(found.map((i) => [i.script, i.errors.length])).toEqual([['preinstall', 1], ['install', 0]]);
  });
});

describe('positionalFromScripts: the URL the shell passes', () => {
  it.each([
    ['install-beacon https://e.com/{name} || exit 0', 'https://e.com/{name}'],
    ['install-beacon "https://e.com/{name}?a={ci}&b={pm}" || exit 0', 'https://e.com/{name}?a={ci}&b={pm}'],
    ['install-beacon https://e.com/{name}?a={ci}&b={pm}', 'https://e.com/{name}?a={ci}'],
    [RECOMMENDED_LINE, undefined],
    ['install-beacon --bogus', undefined],
  ])('%s → %s', (postinstall, expected) => {
    expect(positionalFromScripts({ scripts: { postinstall } })).toBe(expected);
  });
});

describe("usesBeacon: an author's package, or a project", () => {
  it.each([
    [{ scripts: { postinstall: RECOMMENDED_LINE } }, true],
    [{ installBeacon: { url: 'https://e.com/{name}' } }, true],
    [{ installBeacon: 'https://e.com/{name}' }, true],
    [{ installBeacon: { url: 'https://e.com/{name}', enabled: false } }, true],
    // The README's project opt-out: a project, not a broken author config (issue 9, item 3).
    [{ installBeacon: { enabled: false } }, false],
    [{ installBeacon: { enabled: 'false' } }, false],
    [{ scarfSettings: { enabled: false } }, false],
    [{ name: 'install-beacon', scripts: { postinstall: 'install-beacon' } }, false],
    [{}, false],
  ])('%j → %s', (pkg, expected) => {
    expect(usesBeacon(pkg)).toBe(expected);
  });
});
