import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, relative } from 'node:path';

// The package managers and runtimes the real-install tests use live in the
// matrix's tool cache (filled by `npm run test:matrix`). A case that needs one
// says so in its title when it is missing, so the run's list of skipped cases
// (test/support/skipped-reporter.ts) names what was skipped and why.

export const CACHE = process.env.INSTALL_BEACON_MATRIX_CACHE || join(homedir(), '.cache', 'install-beacon-matrix');

/** '' when every tool is there, else ` [skipped: ... not in the matrix tool cache ...]`, for the title of the case that needs them. */
export function needs(...tools: string[]): string {
  const gone = tools.filter((t) => !existsSync(t)).map((t) => relative(CACHE, t));
  return gone.length ? ` [skipped: ${gone.join(', ')} not in the matrix tool cache ${CACHE} (npm run test:matrix fills it)]` : '';
}
