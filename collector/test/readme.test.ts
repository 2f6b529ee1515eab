import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_ROUTE, FIELDS, VARIABLES } from '../src/routes.js';

// collector/README.md says what the code does: its sample output, route variables and breakdown
// fields come from the same lists as the code (install-beacon's VARIABLES), so a new variable
// that the README omits fails here.

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const names = (sentence: RegExp) => [...(sentence.exec(readme)?.[1] ?? '').matchAll(/`\{?([a-z_]+)\}?`/g)].map((m) => m[1]);

describe('collector/README.md', () => {
  it('the sample start-up output and installBeacon.url carry the default route as the collector prints it', () => {
    expect(readme).toContain(`\n  http://127.0.0.1:7708${DEFAULT_ROUTE}\n`);
    expect(readme).toContain(`"installBeacon": { "url": "https://beacon.example.com${DEFAULT_ROUTE}" }`);
  });
  it('the route variables are exactly install-beacon\'s', () => {
    expect(names(/Its variables are install-beacon's: ([^\n]+)/)).toEqual([...VARIABLES]);
  });
  it('the breakdown fields are exactly the stored fields', () => {
    expect(names(/Breakdown fields: every variable but `event_id` and `name`: ([^\n]*?)\. /)).toEqual([...FIELDS]);
  });
});
