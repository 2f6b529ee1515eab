import type { Reporter, RunnerTask, RunnerTestFile, Vitest } from 'vitest';

// The default reporter shows skipped cases only as a count. This one lists
// each skipped case after the run, by file and full name: a case skipped for a
// missing tool carries the reason in its title (test/support/tools.ts). With
// -t, the cases the pattern filtered out are skipped too: then only the ones
// whose title gives a reason are listed.

const REASON = /[[(]skipped: /;

/** The suites' names and the case's, below the file. */
function fullName(task: RunnerTask): string {
  const names: string[] = [];
  for (let t: RunnerTask | undefined = task; t && !('filepath' in t); t = t.suite) names.unshift(t.name);
  return names.join(' > ');
}

function leaves(task: RunnerTask): RunnerTask[] {
  return 'tasks' in task && Array.isArray(task.tasks) ? task.tasks.flatMap(leaves) : [task];
}

/** The lines to print for these files: one per skipped case. */
export function skippedLines(files: RunnerTestFile[], filtered: boolean): string[] {
  const lines: string[] = [];
  for (const file of files) {
    for (const t of leaves(file)) {
      if (t.mode !== 'skip' && t.result?.state !== 'skip') continue;
      const name = fullName(t);
      if (filtered && !REASON.test(name)) continue;
      lines.push(`  ${file.name} > ${name}${REASON.test(name) ? '' : ' [skipped: no reason given]'}`);
    }
  }
  return lines;
}

export default class SkippedCases implements Reporter {
  private filtered = false;

  onInit(ctx: Vitest): void {
    this.filtered = !!ctx.config.testNamePattern;
  }

  onFinished(files: RunnerTestFile[] = []): void {
    const lines = skippedLines(files, this.filtered);
    if (lines.length) process.stdout.write(`\ninstall-beacon: ${lines.length} skipped case${lines.length === 1 ? '' : 's'}${this.filtered ? ' with a reason (-t filtered the rest)' : ''}:\n${lines.join('\n')}\n`);
  }
}
