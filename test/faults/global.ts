import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, ROOT } from '../support/process.js';

// Before the fault suite: the built bin must exist (npm run test:faults builds
// it), and last run's per-file results are cleared for the totals reporter.
export default function setup(): void {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run "npm run build" first (npm run test:faults does)`);
  rmSync(join(ROOT, '.faults'), { recursive: true, force: true });
}
