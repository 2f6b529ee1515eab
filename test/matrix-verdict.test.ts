import { describe, expect, it } from 'vitest';
import { runPassed, tableDrift } from './matrix/verdict.js';

// What fails `npm run test:matrix`: a failed or skipped cell, README drift, a stray file.

describe('runPassed', () => {
  const clean = { pass: 40, fail: 0, skip: 0, drift: 0, strays: 0 };
  it.each([
    ['every cell passed, README as measured', {}, true],
    ['a failed cell', { fail: 1 }, false],
    ['a skipped cell (its tool could not be installed)', { skip: 1 }, false],
    ['README table drift', { drift: 2 }, false],
    ['a file written outside the temp dir', { strays: 1 }, false],
    ['nothing ran at all', { pass: 0 }, true],
  ] as const)('%s → %s', (_what, change, passed) => {
    expect(runPassed({ ...clean, ...change })).toBe(passed);
  });
});

describe('tableDrift', () => {
  const table = '| a | b |\n|---|---|\n| npm 11.19.1 | 1 event |';
  it('none when the README holds the measured table (surrounding blank lines aside)', () => {
    expect(tableDrift(`\n${table}\n`, table)).toEqual([]);
  });
  it('each differing line, README first', () => {
    expect(tableDrift(table, table.replace('1 event', '2 events'))).toEqual(['- | npm 11.19.1 | 1 event |', '+ | npm 11.19.1 | 2 events |']);
  });
  it('none when only the versions of the tools changed (a new release of a manager installed by range)', () => {
    const released = table.replace('npm 11.19.1', 'npm 11.21.3');
    expect(tableDrift(table, released)).toEqual([]);
  });
  it('a changed claim beside a changed version still drifts', () => {
    const changed = table.replace('npm 11.19.1 | 1 event', 'npm 11.21.3 | 0 events');
    expect(tableDrift(table, changed)).toEqual(['- | npm 11.19.1 | 1 event |', '+ | npm 11.21.3 | 0 events |']);
  });
  it('a row only in one of them', () => {
    expect(tableDrift(table, `${table}\n| bun | 1 event |`)).toEqual(['+ | bun | 1 event |']);
    expect(tableDrift(`${table}\n| bun | 1 event |`, table)).toEqual(['- | bun | 1 event |']);
  });
});
