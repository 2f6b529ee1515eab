// The matrix run's verdict, apart from the run so it can be unit-tested
// (test/matrix-verdict.test.ts): what makes `npm run test:matrix` exit 1.

export interface Tally {
  pass: number;
  fail: number;
  /** Cells not run: a tool or Node.js version that could not be installed or started here. */
  skip: number;
  /** README table lines that differ from this run's results (0 for an --only run, which checks no table). */
  drift: number;
  /** Files the run wrote outside its temp dir. */
  strays: number;
}

/**
 * A run passes only when every cell ran and passed, the README's table says
 * what this run measured, and nothing was written outside the temp dir. A
 * skipped cell is a claim nobody checked: it fails the run as a failed cell does.
 */
export function runPassed(t: Tally): boolean {
  return t.fail === 0 && t.skip === 0 && t.drift === 0 && t.strays === 0;
}

/**
 * A table line with its version numbers blanked. The managers are installed by range
 * (npm 11, pnpm latest), so a release made since the table was written changes the
 * versions it shows without changing any claim: that is not drift (the table is
 * rewritten with the new versions all the same). Every other difference is.
 */
const claims = (line: string | undefined) => line?.replace(/\b\d+\.\d+\.\d+\b/g, 'X.Y.Z');

/** The lines of the README's table that differ from this run's (`- ` README, `+ ` this run), or [] when they agree. */
export function tableDrift(committed: string, measured: string): string[] {
  const was = committed.trim().split('\n');
  const now = measured.trim().split('\n');
  const out: string[] = [];
  for (let i = 0; i < Math.max(was.length, now.length); i++) {
    if (claims(was[i]) === claims(now[i])) continue;
    if (was[i] !== undefined) out.push(`- ${was[i]}`);
    if (now[i] !== undefined) out.push(`+ ${now[i]}`);
  }
  return out;
}
