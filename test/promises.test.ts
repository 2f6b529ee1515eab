import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './support/process.js';

// SECURITY.md's table "Every promise, and the test that checks it": every test
// it names must exist, so a renamed or deleted test fails here instead of
// leaving a promise that nothing checks.

const security = readFileSync(join(ROOT, 'SECURITY.md'), 'utf8');
const table = security.slice(security.indexOf('<!-- promises:start -->'), security.indexOf('<!-- promises:end -->'));
const rows = table.split('\n').filter((line) => line.startsWith('| ') && !line.startsWith('| promise |'));
const cases = rows.flatMap((row) => {
  const cells = row.split(/(?<!\\) \| /);
  const promise = cells[0]!.replace(/^\| /, '');
  return cells[2]!.replace(/ \|$/, '').split(' ; ').map((ref) => {
    const m = /^`([^`]+)` › (.+)$/.exec(ref.trim());
    return { promise, ref, file: m?.[1], name: m?.[2] };
  });
});

describe('SECURITY.md names a test for every promise', () => {
  it('has the table, with rows', () => {
    expect(rows.length).toBeGreaterThan(20);
  });

  it.each(cases)('$promise: $ref', ({ ref, file, name }) => {
    expect(file, `not "\`file\` › name": ${ref}`).toBeDefined();
    expect(existsSync(join(ROOT, file!)), `${file} exists`).toBe(true);
    // On a line that names a test or a group (it(, describe(, or an it.each's title), not anywhere in the file.
    const titled = readFileSync(join(ROOT, file!), 'utf8').split('\n').filter((line) => /\b(?:it|describe)(?:\.\w+)*\(|\)\(['"`]/.test(line));
    expect(titled.some((line) => line.includes(name!)), `${file} has a test or group titled "…${name}…"`).toBe(true);
  });
});
