// A POST's body, pure: content type + bytes -> the events in it, each a flat record of
// name -> text, or the reason the whole body is refused (then nothing of it is stored).
//
//   application/json                   an object (one event) or an array of objects (one each)
//   application/x-ndjson               one object per line (blank lines are skipped)
//   application/x-www-form-urlencoded  one event, `a=1&b=2` (`+` is a space)
//   no body at all                     one event with nothing in it (the query says it all)
//
// Values: a string as it is, a number as JSON writes it, true/false as text, null as absent.
// Nested objects flatten to dotted names (`{"os":{"name":"linux"}}` -> `os.name`), so a client's
// own shape is kept rather than refused; arrays inside an event are refused (a variable is one
// value), and so is a name given twice (`{"a.b":1,"a":{"b":2}}`).

export const MAX_BODY = 64 * 1024;
export const MAX_EVENTS = 1000;
/** Deepest object nesting inside one event (its top level is 1). */
export const MAX_DEPTH = 8;

export type BodyRejection = 'unsupported_type' | 'bad_body' | 'too_many_events';
export type BodyResult = { ok: true; events: Record<string, string>[] } | { ok: false; reason: BodyRejection; detail: string };

type Fields = Record<string, string>;
class Refused extends Error {}
class TooMany extends Error {}

function flatten(value: unknown, prefix: string, depth: number, out: Fields): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Refused('an event must be a JSON object');
  if (depth > MAX_DEPTH) throw new Refused(`an event nests objects deeper than ${MAX_DEPTH}`);
  for (const [key, v] of Object.entries(value)) {
    if (key === '') throw new Refused('a field has an empty name');
    const name = prefix + key;
    if (v === null) continue;
    if (typeof v === 'object' && !Array.isArray(v)) {
      flatten(v, name + '.', depth + 1, out);
      continue;
    }
    if (Array.isArray(v)) throw new Refused(`field "${name}" is an array; a variable holds one value`);
    if (Object.hasOwn(out, name)) throw new Refused(`field "${name}" is given twice`);
    out[name] = String(v); // a string as it is, a number as JSON writes it, a boolean as true/false
  }
}

const event = (value: unknown): Fields => {
  const out: Fields = {};
  flatten(value, '', 1, out);
  return out;
};

function fromJson(text: string): Fields[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Refused('the body is not valid JSON');
  }
  if (Array.isArray(value)) {
    if (value.length > MAX_EVENTS) throw new TooMany();
    return value.map(event);
  }
  return [event(value)];
}

function fromNdjson(text: string): Fields[] {
  const out: Fields[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    if (out.length === MAX_EVENTS) throw new TooMany();
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new Refused(`line ${i + 1} is not valid JSON`);
    }
    out.push(event(value));
  });
  return out;
}

function fromForm(text: string): Fields[] {
  const out: Fields = {};
  for (const item of text.split('&')) {
    if (!item) continue;
    const eq = item.indexOf('=');
    let name: string, value: string;
    try {
      [name, value] = [eq === -1 ? item : item.slice(0, eq), eq === -1 ? '' : item.slice(eq + 1)].map((s) => decodeURIComponent(s.replace(/\+/g, ' '))) as [string, string];
    } catch {
      throw new Refused('the form is not valid percent-encoded UTF-8');
    }
    if (name === '') throw new Refused('a field has an empty name');
    if (Object.hasOwn(out, name)) throw new Refused(`field "${name}" is given twice`);
    out[name] = value;
  }
  return [out];
}


const PARSERS: Record<string, (text: string) => Fields[]> = {
  'application/json': fromJson,
  'application/x-ndjson': fromNdjson,
  'application/x-www-form-urlencoded': fromForm,
};
export const BODY_TYPES = Object.keys(PARSERS);

/** `contentType` as the header gives it (parameters allowed; a charset other than UTF-8 is refused). */
export function parseBody(contentType: string | undefined, bytes: Uint8Array): BodyResult {
  if (bytes.length === 0) return { ok: true, events: [{}] };
  const [type = '', ...params] = (contentType ?? '').split(';').map((s) => s.trim().toLowerCase());
  const parse = PARSERS[type];
  const charset = params.find((p) => p.startsWith('charset='))?.slice(8).replace(/^"|"$/g, '');
  if (!parse || (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8')) {
    return { ok: false, reason: 'unsupported_type', detail: `a body must be UTF-8 ${BODY_TYPES.join(', ')}` };
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    return { ok: false, reason: 'bad_body', detail: 'the body is not valid UTF-8' };
  }
  try {
    const events = parse(text);
    if (events.length === 0) return { ok: false, reason: 'bad_body', detail: 'the body holds no event' };
    return { ok: true, events };
  } catch (e) {
    if (e instanceof TooMany) return { ok: false, reason: 'too_many_events', detail: `a body holds at most ${MAX_EVENTS} events` };
    // Nothing else can throw here (nesting is bounded before it could exhaust the stack); were it to, the caller answers 503.
    if (!(e instanceof Refused)) throw e;
    return { ok: false, reason: 'bad_body', detail: e.message };
  }
}
