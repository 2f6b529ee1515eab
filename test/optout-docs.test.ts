import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ENV_OPT_OUTS } from '../src/optout.js';

// Each opt-out row's `values` text is what `explain` and the README tell end
// users: it must name exactly the values that behave as it says.

/** "1, true or yes" → ['1', 'true', 'yes']; "empty" is the empty string. */
const words = (list: string) => list.split(/, | or /).map((w) => (w === 'empty' ? '' : w));

describe('the opt-out descriptions agree with the values that opt out', () => {
  it.each(ENV_OPT_OUTS.map((r) => [r.name, r.values, r] as const))('%s: "%s"', (_name, values, row) => {
    const but = /^anything but (.+)$/.exec(values);
    if (but) {
      // The listed values are the only ones that do not opt out.
      for (const w of words(but[1]!)) expect(row.optsOut(w), JSON.stringify(w)).toBe(false);
      for (const w of ['1', 'true', 'yes', 'anything']) expect(row.optsOut(w), w).toBe(true);
    } else {
      // The listed values opt out; their opposites do not.
      for (const w of words(values)) expect(row.optsOut(w), w).toBe(true);
      for (const w of ['', 'anything', ...['1', 'true', 'yes', 'false', '0', 'no'].filter((x) => !words(values).includes(x))]) expect(row.optsOut(w), JSON.stringify(w)).toBe(false);
    }
  });

  it("the README's opt-out block shows each variable with its row's description", () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    for (const row of ENV_OPT_OUTS) {
      const line = readme.split('\n').find((l) => l.startsWith(`export ${row.name}=`));
      expect(line, `README line for ${row.name}`).toBeDefined();
      expect(line!.split('#')[1]!.trim().replace(/ \(Scarf's variable\)$/, '')).toBe(row.values);
    }
  });
});
