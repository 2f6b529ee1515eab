import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MAX_TEXT_BYTES, readPackageJson, realProbes } from '../src/probes.js';
import { TempDirs } from './support/process.js';

// The real file probes read a package.json as npm does, and only a regular file
// of at most MAX_TEXT_BYTES (issue 19, items 1 and 9). Real files, a real FIFO.

const temps = new TempDirs();
afterAll(() => temps.cleanup());
const dir = temps.make('ib-probes-read-');

describe.skipIf(process.platform === 'win32')('realProbes.readText / readJson', () => {
  const at = (name: string) => join(dir, name);
  writeFileSync(at('bom.json'), '\uFEFF{"installBeacon":{"enabled":false},"name":"a","version":"1.0.0"}');
  writeFileSync(at('two-boms.json'), '\uFEFF\uFEFF{}');
  writeFileSync(at('plain.json'), '{"a":1}');
  execFileSync('mkfifo', [at('fifo.json')]);
  symlinkSync('/dev/zero', at('zero.json'));
  mkdirSync(at('dir.json'));
  writeFileSync(at('big.json'), '{}');
  truncateSync(at('big.json'), MAX_TEXT_BYTES + 1); // sparse: no 10 MB written
  writeFileSync(at('max.txt'), '');
  truncateSync(at('max.txt'), MAX_TEXT_BYTES);

  it.each([
    ['a byte-order mark is dropped, as npm drops it', 'bom.json', { installBeacon: { enabled: false }, name: 'a', version: '1.0.0' }],
    ['only one (npm: /^\\uFEFF/)', 'two-boms.json', undefined],
    ['a plain file', 'plain.json', { a: 1 }],
    ['a FIFO: never opened for a blocking read', 'fifo.json', undefined],
    ['a link to /dev/zero: not a regular file', 'zero.json', undefined],
    ['a directory', 'dir.json', undefined],
    ['over MAX_TEXT_BYTES', 'big.json', undefined],
    ['missing', 'none.json', undefined],
  ])('readJson: %s', (_n, file, expected) => {
    expect(realProbes.readJson(at(file))).toEqual(expected);
  });

  it('readText reads a file of exactly MAX_TEXT_BYTES, and nothing above it', () => {
    expect(realProbes.readText(at('max.txt'))).toHaveLength(MAX_TEXT_BYTES);
    expect(realProbes.readText(at('big.json'))).toBeUndefined();
    expect(realProbes.readText(at('fifo.json'))).toBeUndefined();
  });

  it('readPackageJson (the runtime skip path) reads a BOM package.json', () => {
    expect(readPackageJson(at('bom.json'))).toMatchObject({ name: 'a', version: '1.0.0' });
    expect(readPackageJson(at('fifo.json'))).toBeUndefined();
  });
});
