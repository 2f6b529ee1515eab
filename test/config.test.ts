import { describe, expect, it } from 'vitest';
import { DEFAULTS, parseConfig, projectOptOut, projectSettingNotes } from '../src/config.js';
import { editDistance, nearest, withSuggestion } from '../src/suggest.js';

const URL_T = 'https://e.com/{name}';

describe('parseConfig', () => {
  it('applies the defaults', () => {
    const r = parseConfig({ url: URL_T });
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.config).toMatchObject({ ci: DEFAULTS.ci, delivery: 'auto', timeoutMs: 1500 });
      expect(r.config.template.source).toBe(URL_T);
      expect(r.warnings).toEqual([]);
      expect(r.disabledByAuthor).toBe(false);
    }
  });

  it('accepts a bare URL string as shorthand', () => {
    const r = parseConfig(URL_T);
    expect(r.ok && r.config.template.source).toBe(URL_T);
  });

  it('lets a positional template win over the package.json url', () => {
    const r = parseConfig({ url: 'https://a.com/{name}' }, 'https://b.com/{version}');
    expect(r.ok && r.config.template.host).toBe('b.com');
  });

  it('uses a positional template when package.json has no config', () => {
    expect(parseConfig(undefined, URL_T).ok).toBe(true);
  });

  it.each([
    [{ url: URL_T, ci: false, delivery: 'inline', timeoutMs: 200 }, { ci: false, delivery: 'inline', timeoutMs: 200 }],
    [{ url: URL_T, delivery: 'background' }, { delivery: 'background' }],
    [{ url: URL_T, timeoutMs: 100 }, { timeoutMs: 100 }],
    [{ url: URL_T, timeoutMs: 10_000 }, { timeoutMs: 10_000 }],
  ])('accepts %j', (raw, expected) => {
    const r = parseConfig(raw);
    expect(r.ok && r.config).toMatchObject(expected);
  });

  it.each([
    [null, /must be an object/],
    [42, /must be an object/],
    [true, /must be an object/],
    [['https://e.com'], /must be an object/],
    [{}, /no URL template/],
    [undefined, /no URL template/],
    [{ url: 42 }, /must be a string/],
    [{ url: 'http://e.com/' }, /loopback/],
    [{ url: URL_T, ci: 'no' }, /"installBeacon.ci" must be true or false/],
    [{ url: URL_T, delivery: 'later' }, /"installBeacon.delivery" must be one of/],
    [{ url: URL_T, timeoutMs: 99 }, /timeoutMs/],
    [{ url: URL_T, timeoutMs: 10_001 }, /timeoutMs/],
    [{ url: URL_T, timeoutMs: 1.5 }, /timeoutMs/],
    [{ url: URL_T, timeoutMs: '1500' }, /timeoutMs/],
    [{ url: URL_T, enabled: 'no' }, /enabled/],
  ])('rejects %j', (raw, message) => {
    const r = parseConfig(raw);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors.join('\n')).toMatch(message);
  });

  it('names the positional argument in its error', () => {
    const r = parseConfig({ url: URL_T }, 'https://e.com/{bogus}');
    expect(!r.ok && r.errors[0]).toMatch(/^the URL argument: unknown variable/);
  });

  it('warns about unknown keys without failing', () => {
    const r = parseConfig({ url: URL_T, timeout: 5, endpoint: 'x' });
    expect(r.ok).toBe(true);
    expect(r.warnings).toEqual([
      expect.stringContaining('"installBeacon.timeout"'),
      expect.stringContaining('"installBeacon.endpoint"'),
    ]);
  });

  it('reports the author switching it off', () => {
    const r = parseConfig({ url: URL_T, enabled: false });
    expect(r.ok && r.disabledByAuthor).toBe(true);
  });
});

describe('projectOptOut', () => {
  it.each([
    [{ installBeacon: { enabled: false } }, '"installBeacon": {"enabled": false}'],
    [{ scarfSettings: { enabled: false } }, '"scarfSettings": {"enabled": false}'],
    [{ installBeacon: { enabled: true }, scarfSettings: { enabled: false } }, '"scarfSettings": {"enabled": false}'],
    // A string or number that clearly means "off" is honoured, and said to be read as false (README: "enabled": "false").
    [{ installBeacon: { enabled: 'false' } }, '"installBeacon": {"enabled": "false"} (a string, read as false)'],
    [{ installBeacon: { enabled: ' FALSE ' } }, '"installBeacon": {"enabled": " FALSE "} (a string, read as false)'],
    [{ installBeacon: { enabled: 'no' } }, '"installBeacon": {"enabled": "no"} (a string, read as false)'],
    [{ installBeacon: { enabled: 'off' } }, '"installBeacon": {"enabled": "off"} (a string, read as false)'],
    [{ installBeacon: { enabled: '0' } }, '"installBeacon": {"enabled": "0"} (a string, read as false)'],
    [{ scarfSettings: { enabled: 0 } }, '"scarfSettings": {"enabled": 0} (a number, read as false)'],
    [{ scarfSettings: { enabled: 'false' } }, '"scarfSettings": {"enabled": "false"} (a string, read as false)'],
    [{ installBeacon: { enabled: true } }, undefined],
    [{ installBeacon: { enabled: 'true' } }, undefined],
    [{ installBeacon: { enabled: 'nope' } }, undefined],
    [{ installBeacon: { enabled: null } }, undefined],
    [{ name: 'app' }, undefined],
    [undefined, undefined],
    ['not an object', undefined],
    [[1, 2], undefined],
  ])('%j → %j', (pkg, expected) => {
    expect(projectOptOut(pkg)).toBe(expected);
  });
});

describe('projectSettingNotes: a project "enabled" that is neither on nor off is flagged', () => {
  it.each([
    [{ installBeacon: { enabled: 'nope' } }, ['"installBeacon": {"enabled": "nope"} is not understood, so it is not an opt-out: write "enabled": false']],
    [{ scarfSettings: { enabled: null } }, ['"scarfSettings": {"enabled": null} is not understood, so it is not an opt-out: write "enabled": false']],
    [{ installBeacon: { enabled: 'false' } }, []],
    [{ installBeacon: { enabled: true } }, []],
    [{ installBeacon: { enabled: 'yes' } }, []],
    [{ installBeacon: { enabled: 'true' } }, []],
    [{ installBeacon: { enabled: '1' } }, []],
    [{ installBeacon: { enabled: ' On ' } }, []],
    [{ installBeacon: { enabled: 1 } }, []],
    [{ installBeacon: {} }, []],
    [{ name: 'app' }, []],
    ['not an object', []],
    [null, []],
  ])('%j → %j', (pkg, expected) => {
    expect(projectSettingNotes(pkg)).toEqual(expected);
  });
});

describe('did you mean: misspelt variables and keys', () => {
  it.each([
    ['https://e.com/{platfrom}', '{platform}'],
    ['https://e.com/{verison}', '{version}'],
    ['https://e.com/{pm_verison}', '{pm_version}'],
    ['https://e.com/x?c={contianer}', '{container}'],
  ])('%s suggests %s', (url, suggestion) => {
    const r = parseConfig({ url });
    expect(r.ok).toBe(false);
    expect(withSuggestion(!r.ok ? r.errors[0]! : '')).toContain(`did you mean ${suggestion}? Known: {name}`);
  });

  it('suggests nothing for a word close to no variable', () => {
    const r = parseConfig({ url: 'https://e.com/{zzzzzzzz}' });
    const error = withSuggestion(!r.ok ? r.errors[0]! : '');
    expect(error).not.toContain('did you mean');
    expect(error).toContain('unknown variable {zzzzzzzz}; known: {name}');
  });

  it('suggests the nearest key for a misspelt key', () => {
    const r = parseConfig({ url: 'https://e.com/{name}', timeoutMS: 2000 });
    expect(r.warnings.map(withSuggestion)).toEqual(['unknown key "installBeacon.timeoutMS" is ignored (did you mean "timeoutMs"? known: url, ci, delivery, timeoutMs, enabled)']);
  });

  it.each([
    ['platfrom', 'platform', 2],
    ['', 'abc', 3],
    ['abc', 'abc', 0],
    ['kitten', 'sitting', 3],
  ])('editDistance(%s, %s) = %d', (a, b, d) => {
    expect(editDistance(a, b)).toBe(d);
    expect(nearest(a, [b])).toBe(d <= Math.min(2, Math.floor(a.length / 2)) ? b : undefined);
  });
});
