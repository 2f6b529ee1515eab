import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../../test/support/process.js';
import { writeReport, type Results } from './report.js';

// `node scripts/bench/run.mjs --report`: re-render from the last run's results.
const results = JSON.parse(readFileSync(join(ROOT, '.bench/results.json'), 'utf8')) as Results;
writeReport(results, ROOT);
process.stderr.write('bench: re-rendered BENCHMARKS.md and docs/bench.svg from .bench/results.json\n');
