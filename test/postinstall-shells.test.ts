import { existsSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { baseEnv, run, TempDirs } from './support/process.js';

// The README's postinstall line where the install-beacon command does not
// exist, run by each script shell a package manager may use: sh (npm, pnpm,
// yarn 1, bun on POSIX), yarn berry's own shell and bun's shell. Windows
// cmd.exe is not available here (documented behaviour: `a || exit 0` runs
// `exit 0` when `a` is not found, errorlevel 9009).
//
// yarn berry and bun come from the matrix's tool cache (`npm run test:matrix`
// installs them into ~/.cache/install-beacon-matrix); without it those two
// cases are skipped, and say so.

const LINE = 'install-beacon-missing-here || exit 0';
const BARE = 'install-beacon-missing-here';
const CACHE = process.env.INSTALL_BEACON_MATRIX_CACHE || join(homedir(), '.cache', 'install-beacon-matrix');
const YARN = join(CACHE, '@yarnpkg+cli-dist@4.18.1', 'node_modules', '.bin', 'yarn');
const BUN = join(CACHE, 'bun@1.4.5', 'node_modules', '.bin', 'bun');

const temps = new TempDirs();
afterAll(() => temps.cleanup());

function project(extra: Record<string, unknown> = {}): { dir: string; env: Record<string, string> } {
  const dir = temps.make('ib-shells-');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'shells', version: '1.0.0', private: true, scripts: { line: LINE, bare: BARE }, ...extra }));
  return { dir, env: baseEnv(temps.make('ib-shells-home-'), { YARN_ENABLE_TELEMETRY: '0', YARN_ENABLE_GLOBAL_CACHE: 'false' }) };
}

describe("the README's line exits 0 when the command is missing, in every script shell", () => {
  it('sh -c', async () => {
    expect((await run('sh', ['-c', LINE])).code).toBe(0);
    expect((await run('sh', ['-c', BARE])).code).toBe(127);
  });

  it.skipIf(!existsSync(YARN))(`yarn berry's shell (yarn 4.18.1 run)${existsSync(YARN) ? '' : ' [skipped: not in the matrix cache]'}`, async () => {
    const { dir, env } = project({ packageManager: 'yarn@4.18.1' });
    expect((await run(YARN, ['install'], { cwd: dir, env })).code).toBe(0);
    expect((await run(YARN, ['run', 'line'], { cwd: dir, env })).code).toBe(0);
    expect((await run(YARN, ['run', 'bare'], { cwd: dir, env })).code).toBe(127);
  });

  it.skipIf(!existsSync(BUN))(`bun's shell and sh (bun 1.4.5 run --shell=bun|system)${existsSync(BUN) ? '' : ' [skipped: not in the matrix cache]'}`, async () => {
    const { dir, env } = project();
    for (const shell of ['bun', 'system']) {
      expect((await run(BUN, ['run', `--shell=${shell}`, 'line'], { cwd: dir, env })).code).toBe(0);
      expect((await run(BUN, ['run', `--shell=${shell}`, 'bare'], { cwd: dir, env })).code).not.toBe(0);
    }
  });
});
