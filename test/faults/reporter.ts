import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Reporter, RunnerTask, RunnerTestFile } from 'vitest';
import { ROOT } from '../support/process.js';

// Totals for the README's reliability section: cases run, passed (faults
// survived), skipped with reasons, and events expected, received, lost and
// doubled, summed over the per-file results the test files write to .faults/.

interface FileResult {
  file: string;
  tally: { expected: number; received: number; lost: number; doubled: number };
  skipped: Array<{ test: string; reason: string }>;
  notes?: string[];
}

function tests(task: RunnerTask): RunnerTask[] {
  return 'tasks' in task && Array.isArray(task.tasks) ? task.tasks.flatMap(tests) : [task];
}

export default class FaultTotals implements Reporter {
  private started = Date.now();

  onInit(): void {
    this.started = Date.now();
  }

  onFinished(files: RunnerTestFile[] = []): void {
    const all = files.flatMap((f) => tests(f));
    const count = (state: string) => all.filter((t) => (t.result?.state ?? t.mode) === state).length;
    const passed = count('pass');
    const failed = count('fail');
    const skipped = all.filter((t) => t.mode === 'skip' || t.mode === 'todo' || t.result?.state === 'skip').length;
    const dir = join(ROOT, '.faults');
    let results: FileResult[] = [];
    try {
      results = readdirSync(dir).filter((f) => f.endsWith('.json') && f !== 'totals.json').map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as FileResult);
    } catch {
      // no file wrote results (e.g. all filtered out)
    }
    const sum = (k: keyof FileResult['tally']) => results.reduce((n, r) => n + r.tally[k], 0);
    const totals = {
      cases: all.length,
      run: passed + failed,
      passed,
      failed,
      skipped,
      skipReasons: results.flatMap((r) => r.skipped),
      events: { expected: sum('expected'), received: sum('received'), lost: sum('lost'), doubled: sum('doubled') },
      notes: results.flatMap((r) => r.notes ?? []),
      wallSeconds: Math.round((Date.now() - this.started) / 1000),
    };
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'totals.json'), JSON.stringify(totals, null, 2));
    const lines = [
      '',
      'install-beacon fault suite totals',
      `  cases: ${totals.cases} (run ${totals.run}, passed ${passed}, failed ${failed}, skipped ${skipped})`,
      `  events: expected ${totals.events.expected}, received ${totals.events.received}, lost ${totals.events.lost}, doubled ${totals.events.doubled}`,
      ...totals.skipReasons.map((s) => `  skipped: ${s.test}: ${s.reason}`),
      ...totals.notes.map((n) => `  ${n}`),
      `  wall time: ${totals.wallSeconds} s`,
      `  (written to .faults/totals.json)`,
      '',
    ];
    process.stdout.write(lines.join('\n'));
  }
}
