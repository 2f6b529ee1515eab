import { describe, expect, it } from 'vitest';
import { checkRules, describeRules, parseAccept, parseRules } from '../src/accept.js';
import { isPackageName } from '../src/routes.js';

describe('--accept VAR=RULE', () => {
  it.each<[string, string[], string[]]>([
    ['version=semver', ['1.2.3', '0.0.0-rc.1', '1.2.3+build.5'], ['v1.2.3', '1.2', 'semver', '']],
    ['python=/3\\.\\d+/', ['3.11', '3.9'], ['3.11.2', 'x3.11', '2.7']],
    ['platform=Linux,Darwin', ['Linux', 'Darwin'], ['linux', 'Linux,Darwin', '']],
    ['a.b=/x|y/', ['x', 'y'], ['xy']],
    ['s=/', ['/'], ['']], // one "/" is a list of one value, not a regex
  ])('%s', (spec, yes, no) => {
    const a = parseAccept(spec);
    if (!a.ok) throw new Error(a.error);
    expect(a.value[0]).toBe(spec.slice(0, spec.indexOf('=')));
    expect(a.value[1].text).toBe(spec.slice(spec.indexOf('=') + 1));
    for (const v of yes) expect(a.value[1].accepts(v), v).toBe(true);
    for (const v of no) expect(a.value[1].accepts(v), v).toBe(false);
  });

  it.each([
    ['version', '--accept "version": give VARIABLE=RULE, e.g. version=semver or platform=linux,darwin,win32'],
    ['x version=semver', '--accept "x version=semver": give VARIABLE=RULE, e.g. version=semver or platform=linux,darwin,win32'],
    ['name=acme', '--accept name=acme: give the accepted packages with --accept-package NAME or --accept-package @scope/*'],
    ['v=a,,b', '--accept v=a,,b: an empty value in the list'],
  ])('%s is refused', (spec, error) => expect(parseAccept(spec)).toEqual({ ok: false, error }));
});

describe('--accept-package and the rules of one route', () => {
  const rules = (packages: string[], accepts: string[] = []) => {
    const r = parseRules(packages, accepts, undefined, isPackageName);
    if (!r.ok) throw new Error(r.error);
    return r.value;
  };
  it('names and @scope/* (only that scope)', () => {
    const r = rules(['acme-lib', '@acme/*']);
    expect(['acme-lib', '@acme/cli', 'other', '@acmex/cli', 'acme-lib2', '@other/acme-lib'].map((p) => checkRules(r, p, {}))).toEqual([undefined, undefined, 'package_not_accepted', 'package_not_accepted', 'package_not_accepted', 'package_not_accepted']);
    expect(describeRules(r)).toBe('package acme-lib, @acme/*');
  });
  it('describeRules: one line, or nothing without rules', () => {
    expect(describeRules(rules([], ['version=semver', 'ci=true,false']))).toBe('version semver; ci true,false');
    expect(describeRules(rules([]))).toBeUndefined();
  });
  it.each([
    [['@*'], '--accept-package "@*" is not a package name (NAME, @scope/NAME or @scope/*)'],
    [['acme/*'], '--accept-package "acme/*" is not a package name (NAME, @scope/NAME or @scope/*)'],
  ])('%j is refused', (packages, error) => expect(parseRules(packages, [], undefined, isPackageName)).toEqual({ ok: false, error }));
});
