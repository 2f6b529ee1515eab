// `npm run bench` (after `npm run build`): bundles the TypeScript bench with
// esbuild and runs it. `--report` only re-renders BENCHMARKS.md and
// docs/bench.svg from the last run's .bench/results.json.
//
// The bundle goes two folders deep (.bench/out/) on purpose: test/support
// finds the repo root as `../..` from its own import.meta.url, which the
// bundle keeps.
import { build } from 'esbuild';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const out = join(root, '.bench/out');
mkdirSync(out, { recursive: true });
const report = process.argv.includes('--report');
const entry = report ? 'scripts/bench/rerender.ts' : 'scripts/bench/main.ts';
await build({
  entryPoints: [join(root, entry)],
  outfile: join(out, 'bench.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node18',
  packages: 'external',
  logLevel: 'warning',
});
await import(pathToFileURL(join(out, 'bench.mjs')).href);
