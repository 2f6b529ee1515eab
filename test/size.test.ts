import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NPM, stageBeacon } from './support/fixture.js';
import { baseEnv, BIN, ROOT, run, TempDirs } from './support/process.js';

// The opt-out path's size budget, checked on the built dist (npm test builds
// first). Not a timing: it counts what the process loads, with
// scripts/bench/load-probe.cjs preloaded, on the two paths that must cost no
// more than a bare Node start (see BENCHMARKS.md).

/** Bytes of JavaScript the opt-out and self-install paths may load (dist/bin.cjs and anything it requires there). */
const OPT_OUT_BUDGET_BYTES = 4096;
const PROBE = join(ROOT, 'scripts/bench/load-probe.cjs');

interface Probe {
  files: string[];
  builtins: string[];
}

const temp = new TempDirs();
afterAll(() => temp.cleanup());

async function probe(script: string, cwd: string, env: Record<string, string | undefined>): Promise<Probe> {
  const out = temp.make('ib-size-probe-');
  const r = await run(process.execPath, ['--require', PROBE, script], { cwd, env: baseEnv(temp.make('ib-size-home-'), { ...env, LOAD_PROBE_DIR: out }) });
  expect(r.code).toBe(0);
  expect(r.stderr).toBe('');
  const [file] = readdirSync(out);
  return JSON.parse(readFileSync(join(out, file!), 'utf8')) as Probe;
}

function project(): { root: string; pkg: string } {
  const root = temp.make('ib-size-');
  const pkg = join(root, 'node_modules/acme-lib');
  mkdirSync(pkg, { recursive: true });
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0' }));
  writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'acme-lib', version: '2.3.4', installBeacon: { url: 'http://127.0.0.1:9/{name}' } }));
  return { root, pkg };
}

describe('the opt-out path stays within its size budget', () => {
  const { root, pkg } = project();
  const cases: { name: string; cwd: string; env: Record<string, string> }[] = [
    { name: 'an opt-out (DO_NOT_TRACK=1)', cwd: pkg, env: { DO_NOT_TRACK: '1', INIT_CWD: root, npm_lifecycle_event: 'postinstall' } },
    { name: "the author's own install (not inside node_modules)", cwd: root, env: { INIT_CWD: root, npm_lifecycle_event: 'postinstall' } },
  ];

  for (const { name, cwd, env } of cases) {
    it(`${name}: loads only dist/bin.cjs, at most ${OPT_OUT_BUDGET_BYTES} bytes`, async () => {
      const loaded = await probe(BIN, cwd, env);
      expect(loaded.files).toEqual([BIN]);
      const bytes = loaded.files.reduce((sum, f) => sum + statSync(f).size, 0);
      expect(bytes).toBeLessThanOrEqual(OPT_OUT_BUDGET_BYTES);
    });

    it(`${name}: loads no Node built-in module that an empty script does not`, async () => {
      const empty = join(temp.make('ib-size-empty-'), 'empty.cjs');
      writeFileSync(empty, '');
      const baseline = new Set((await probe(empty, cwd, env)).builtins);
      const extra = (await probe(BIN, cwd, env)).builtins.filter((m) => !baseline.has(m));
      expect(extra).toEqual([]);
    });
  }
});

describe("the library entry's load cost", () => {
  const INDEX = join(ROOT, 'dist/index.cjs');
  const CORE = join(ROOT, 'dist/core.cjs');
  const { root } = project();

  it('require of dist/index.cjs loads it and dist/core.cjs, and no Node built-in an empty script does not', async () => {
    const script = join(temp.make('ib-size-entry-'), 'main.cjs');
    writeFileSync(script, `require(${JSON.stringify(INDEX)});\n`);
    const empty = join(temp.make('ib-size-empty-'), 'empty.cjs');
    writeFileSync(empty, '');
    const loaded = await probe(script, root, {});
    expect(loaded.files.filter((f) => f !== script)).toEqual([INDEX, CORE]);
    const baseline = new Set((await probe(empty, root, {})).builtins);
    expect(loaded.builtins.filter((m) => !baseline.has(m))).toEqual([]);
  });
});

// The package's own weight (issue 12): what `npm pack` of this repo produces,
// measured from npm's own report, not from a list of files chosen here.

// Issue 12's budget was 30,000 B. What paid for later features ({direct}, {libc_version}):
// the README ships what a user needs, and the deeper material lives in docs/. Issue 19's
// fixes to broken promises (a BOM-tolerant, FIFO-safe package.json reader, a workspace glob
// matcher as npm's, one takeover lock, pruning that keeps a marker another copy needs, the
// image-layer rule, check following `npm run X`) cost 1,265 B against the 351 B that
// shipping a slim manifest freed: the budget moved to 31,000 B rather than give any of them up.
// The next stop's issue 19 items took 298 B more (30,852 -> 31,150 B): {direct} only for a dependent
// that resolves to this very copy, {pm_version} filtered at every source and the deadline counted from
// process start with a hand-off to the sender (84 B); a package in a shared pnpm store belonging to
// the project that links it, and yarn 4's node_modules/.store (201 B). Budget: 31,250 B.
const PACKED_BUDGET_BYTES = 31_250;
const UNPACKED_BUDGET_BYTES = 100_000;

interface PackReport {
  size: number;
  unpackedSize: number;
  files: { path: string; size: number }[];
}

describe('npm pack stays within the footprint budget', () => {
  let report: PackReport;
  beforeAll(() => {
    // The staged folder (the published package.json): the repo's own prepack would rebuild dist/
    // and swap package.json under the other test files' feet (npm test built it already).
    const out = execFileSync(NPM, ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: stageBeacon(temp.make('ib-size-stage-')), encoding: 'utf8' });
    report = (JSON.parse(out) as PackReport[])[0]!;
  });

  it(`packed at most ${PACKED_BUDGET_BYTES} bytes, unpacked at most ${UNPACKED_BUDGET_BYTES} bytes`, () => {
    expect(report.size, 'packed bytes').toBeLessThanOrEqual(PACKED_BUDGET_BYTES);
    expect(report.unpackedSize, 'unpacked bytes').toBeLessThanOrEqual(UNPACKED_BUDGET_BYTES);
  });

  it('ships every file a feature needs (the budget is not met by leaving one out)', () => {
    expect(report.files.map((f) => f.path).sort()).toEqual([
      'LICENSE', 'README.md',
      'dist/bin.cjs', 'dist/browser.mjs', 'dist/core.cjs', 'dist/deliver.cjs',
      'dist/index.cjs', 'dist/index.d.cts', 'dist/index.d.mts', 'dist/index.mjs',
      'package.json',
    ]);
  });
});
