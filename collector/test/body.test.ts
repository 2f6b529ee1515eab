import { describe, expect, it } from 'vitest';
import { MAX_BODY, MAX_DEPTH, MAX_EVENTS, parseBody } from '../src/body.js';
import { eventsOf, scarfRecord } from '../src/ingest.js';
import { compileRoute, matchRequest, type IngestEvent } from '../src/routes.js';

const bytes = (s: string) => new TextEncoder().encode(s);
const JSON_T = 'application/json';
const NDJSON = 'application/x-ndjson';
const FORM = 'application/x-www-form-urlencoded';

describe('parseBody: content type + bytes -> flat records, or the reason for refusing all of it', () => {
  it.each<[string, string | undefined, string, Record<string, string>[]]>([
    ['no body: one event from the query', undefined, '', [{}]],
    ['no body with a type', JSON_T, '', [{}]],
    ['a JSON object', JSON_T, '{"version":"1.2.3","platform":"linux"}', [{ version: '1.2.3', platform: 'linux' }]],
    ['a type with a charset, any case', 'Application/JSON; charset=UTF-8', '{"a":"b"}', [{ a: 'b' }]],
    ['numbers, booleans as text, null absent', JSON_T, '{"n":1.5,"e":1e21,"t":true,"f":false,"z":null}', [{ n: '1.5', e: '1e+21', t: 'true', f: 'false' }]],
    ['nested objects flatten to dotted names', JSON_T, '{"os":{"name":"linux","v":{"major":6}},"x":"1"}', [{ 'os.name': 'linux', 'os.v.major': '6', x: '1' }]],
    ['an array of objects: one event each', JSON_T, '[{"v":"1"},{"v":"2"},{}]', [{ v: '1' }, { v: '2' }, {}]],
    ['ndjson: one event per line, blank lines skipped', NDJSON, '{"v":"1"}\n\n{"v":"2"}\r\n', [{ v: '1' }, { v: '2' }]],
    ['a form', FORM, 'version=1.2.3&platform=linux&pm=a+b%2Fc&empty=', [{ version: '1.2.3', platform: 'linux', pm: 'a b/c', empty: '' }]],
    ['unicode kept as sent', JSON_T, '{"v":"ü\\u00e9"}', [{ v: 'üé' }]],
    ['a number-like string stays as sent', JSON_T, '{"v":"1.50","n":1.50}', [{ v: '1.50', n: '1.5' }]],
    ['a quoted charset, other parameters', 'application/json; foo=bar; charset="utf-8"', '{"a":"b"}', [{ a: 'b' }]],
    ['charset=utf8, as some clients spell it', 'application/json; charset=utf8', '{"a":"b"}', [{ a: 'b' }]],
    ['a UTF-8 byte-order mark before the JSON', JSON_T, '\ufeff{"a":"b"}', [{ a: 'b' }]],
    ['parameters without a charset', 'application/json; foo=bar', '{"a":"b"}', [{ a: 'b' }]],
    [`nesting of exactly ${MAX_DEPTH} levels`, JSON_T, '{"a":'.repeat(MAX_DEPTH - 1) + '{"z":1}' + '}'.repeat(MAX_DEPTH - 1), [{ ['a.'.repeat(MAX_DEPTH - 1) + 'z']: '1' }]],
    ['ndjson lines of only spaces are blank', NDJSON, '{"v":"1"}\n   \n\t\n{"v":"2"}', [{ v: '1' }, { v: '2' }]],
    ['a form with empty items', FORM, '&a=1&&b=2&', [{ a: '1', b: '2' }]],
  ])('%s', (_what, type, body, events) => {
    expect(parseBody(type, bytes(body))).toEqual({ ok: true, events });
  });

  it.each<[string, string | undefined, string | Uint8Array, string, string]>([
    ['no content type', undefined, '{"a":1}', 'unsupported_type', 'a body must be UTF-8 application/json, application/x-ndjson, application/x-www-form-urlencoded'],
    ['text/plain', 'text/plain', 'a=1', 'unsupported_type', 'a body must be'],
    ['another charset', 'application/json; charset=latin1', '{"a":1}', 'unsupported_type', 'a body must be'],
    ['invalid JSON', JSON_T, '{"a":', 'bad_body', 'not valid JSON'],
    ['a JSON scalar', JSON_T, '"x"', 'bad_body', 'must be a JSON object'],
    ['an array holding a scalar', JSON_T, '[{"a":1},2]', 'bad_body', 'must be a JSON object'],
    ['an empty array', JSON_T, '[]', 'bad_body', 'holds no event'],
    ['an array inside an event', JSON_T, '{"a":[1]}', 'bad_body', 'field "a" is an array'],
    ['a name twice after flattening', JSON_T, '{"a.b":1,"a":{"b":2}}', 'bad_body', 'field "a.b" is given twice'],
    ['an empty name', JSON_T, '{"":1}', 'bad_body', 'empty name'],
    ['nesting too deep', JSON_T, '{"a":'.repeat(MAX_DEPTH) + '{}' + '}'.repeat(MAX_DEPTH), 'bad_body', `deeper than ${MAX_DEPTH}`],
    ['nesting deep enough for any stack', JSON_T, '['.repeat(20_000) + ']'.repeat(20_000), 'bad_body', ''],
    ['invalid UTF-8', JSON_T, new Uint8Array([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]), 'bad_body', 'not valid UTF-8'],
    ['a bad ndjson line, said by number', NDJSON, '{"a":1}\n{"a":\n', 'bad_body', 'line 2 is not valid JSON'],
    ['an ndjson line that is an array', NDJSON, '[{"a":1}]', 'bad_body', 'must be a JSON object'],
    ['only blank ndjson lines', NDJSON, '\n\n', 'bad_body', 'holds no event'],
    ['a form with bad percent-encoding', FORM, 'a=%zz', 'bad_body', 'percent-encoded'],
    ['a form field twice', FORM, 'a=1&a=2', 'bad_body', 'field "a" is given twice'],
    ['a form field with an empty name', FORM, 'a=1&=2', 'bad_body', 'empty name'],
    ['JSON null', JSON_T, 'null', 'bad_body', 'must be a JSON object'],
    ['an array holding null', JSON_T, '[null]', 'bad_body', 'must be a JSON object'],
    ['too many events in JSON', JSON_T, JSON.stringify(Array.from({ length: MAX_EVENTS + 1 }, () => ({}))), 'too_many_events', `at most ${MAX_EVENTS}`],
    ['too many events in ndjson', NDJSON, '{}\n'.repeat(MAX_EVENTS + 1), 'too_many_events', `at most ${MAX_EVENTS}`],
  ])('refused: %s', (_what, type, body, reason, detail) => {
    const r = parseBody(type, typeof body === 'string' ? bytes(body) : body);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.reason).toBe(reason);
    expect(r.detail).toContain(detail);
  });

  it('exactly MAX_EVENTS events are accepted, in ndjson and in a JSON array', () => {
    const r = parseBody(NDJSON, bytes('{}\n'.repeat(MAX_EVENTS)));
    expect(r.ok && r.events.length).toBe(MAX_EVENTS);
    const a = parseBody(JSON_T, bytes(JSON.stringify(Array.from({ length: MAX_EVENTS }, () => ({})))));
    expect(a.ok && a.events.length).toBe(MAX_EVENTS);
    expect(MAX_BODY).toBe(65536);
  });
});

describe('eventsOf: body records merged with the URL variables', () => {
  const route = compileRoute('acme-lib=/t?version={version}');
  if (!route.ok) throw new Error(route.error);
  const m = matchRequest([route.route], 'POST', '/t?version=1.0.0');
  if (!m.ok) throw new Error(m.reason);
  const url: IngestEvent = m.event;
  const ID = '0f8e7c1a-2b3c-4d5e-8f90-a1b2c3d4e5f6';

  it.each<[string, Record<string, string>[], ReturnType<typeof eventsOf>]>([
    ['no body: the URL alone', [{}], { ok: true, events: [{ package: 'acme-lib', eventId: null, vars: { version: '1.0.0' } }] }],
    [
      'every body field a variable (nested ones by dotted name), event_id apart, values as sent',
      [{ platform: 'Linux', arch: 'x86_64', event_id: ID, python: '3.12', 'os.name': 'x' }],
      { ok: true, events: [{ package: 'acme-lib', eventId: ID, vars: { version: '1.0.0', platform: 'Linux', arch: 'x86_64', python: '3.12', 'os.name': 'x' } }] },
    ],
    ['a body repeating a URL value', [{ version: '1.0.0', name: 'acme-lib' }], { ok: true, events: [{ package: 'acme-lib', eventId: null, vars: { version: '1.0.0' } }] }],
    ['a body giving another version', [{}, { version: '2.0.0' }], { ok: false, reason: 'conflicting_value' }],
    ['a body naming another package', [{ name: 'other' }], { ok: false, reason: 'conflicting_value' }],
    ['a control character in a body value', [{ platform: 'a\nb' }], { ok: false, reason: 'control_chars' }],
    ['a lone surrogate in a body value', [{ platform: '\ud800' }], { ok: false, reason: 'bad_encoding' }],
    ['a bidi override in a body value', [{ platform: 'a\u202eb' }], { ok: false, reason: 'invisible_chars' }],
    ['a body value over 200 characters', [{ platform: 'x'.repeat(201) }], { ok: false, reason: 'value_too_long' }],
    ['a body field name outside the name rule', [{ 'a b': '1' }], { ok: false, reason: 'bad_var_name' }],
    ['a body field named like an export column', [{ received_at: '1' }], { ok: false, reason: 'reserved_name' }],
    ['a body with more than 40 variables', [Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`v${i}`, '1']))], { ok: false, reason: 'too_many_vars' }],
    ['one bad record refuses the whole request', [{ python: '3.12' }, { python: 'a\u0000b' }], { ok: false, reason: 'control_chars' }],
  ])('%s', (_what, records, want) => {
    expect(eventsOf(url, records)).toEqual(want);
  });

  it.each<[string, Record<string, string>, ReturnType<typeof eventsOf>['ok'], string?]>([
    ['a name from the body where the URL has none', { name: '@acme/lib', version: '1' }, true],
    ['no name at all', { version: '1' }, false, 'bad_name'],
    ['a name that is no npm name', { name: '<script>' }, false, 'bad_name'],
    ['a name of dot segments', { name: '../..' }, false, 'dot_segment'],
  ])('without a URL package: %s', (_what, record, ok, reason) => {
    const r = eventsOf({ vars: {} }, [record]);
    expect(r.ok).toBe(ok);
    if (!r.ok) expect(r.reason).toBe(reason);
  });
});

describe("scarfRecord: @scarf/scarf's body, flattened, as install-beacon's variables", () => {
  // The shape report.js of @scarf/scarf 1.4.0 sends (its infoPayload after redactSensitivePackageInfo).
  const body = {
    libraryType: 'npm',
    rawPlatform: 'linux',
    rawArch: 'x64',
    nodeVersion: '20.20.2',
    dependencyInfo: {
      scarf: { name: '@scarf/scarf', version: '1.4.0' },
      parent: { name: 'acme-lib', version: '2.3.4', scarfSettings: { defaultOptIn: true }, gitSha: 'abc123' },
      grandparent: { nameHash: 'a'.repeat(64), versionHash: 'b'.repeat(64) },
      rootPackage: { nameHash: 'c'.repeat(64), versionHash: 'd'.repeat(64), scarfSettings: { enabled: true } },
      anyInChainDisabled: false,
    },
  };
  it('keeps the depending package and the machine, none of the hashes', () => {
    const r = parseBody(JSON_T, bytes(JSON.stringify(body)));
    if (!r.ok) throw new Error(r.detail);
    const record = scarfRecord(r.events[0]!);
    expect(record).toEqual({ name: 'acme-lib', version: '2.3.4', platform: 'linux', arch: 'x64', node: '20.20.2' });
    expect(eventsOf({ vars: {} }, [record])).toEqual({ ok: true, events: [{ package: 'acme-lib', eventId: null, vars: { version: '2.3.4', platform: 'linux', arch: 'x64', node: '20.20.2' } }] });
    expect(JSON.stringify(record)).not.toMatch(/aaaa|bbbb|cccc|dddd|abc123/);
  });
});
