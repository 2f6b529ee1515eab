import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { baseEnv, ROOT, run, TempDirs } from './support/process.js';

// Issue 19 item 17: on a machine without the matrix's tools, `npm test` must
// say which cases it skipped and why, not only count them. A real vitest run
// (this repo's config, so its reporters) with the tool cache pointed at an
// empty folder.

const temps = new TempDirs();
afterAll(() => temps.cleanup());

const VITEST = join(ROOT, 'node_modules', 'vitest', 'vitest.mjs');

async function vitest(files: string[], extra: string[] = []) {
  const cache = temps.make('ib-empty-tool-cache-');
  const env = baseEnv(temps.make('ib-skip-home-'), { INSTALL_BEACON_MATRIX_CACHE: cache, NO_COLOR: '1', FORCE_COLOR: undefined });
  for (const key of Object.keys(env)) if (/^VITEST/.test(key)) delete env[key];
  const r = await run(process.execPath, [VITEST, 'run', ...files, ...extra], { cwd: ROOT, env, timeoutMs: 240_000 });
  const list = /\ninstall-beacon: (\d+) skipped cases?[^\n]*:\n((?: {2}.*\n?)*)/.exec(r.stdout);
  return { r, cache, count: Number(list?.[1] ?? 0), lines: (list?.[2] ?? '').split('\n').filter(Boolean) };
}

describe('skipped cases name themselves: what was skipped, and why (issue 19 item 17)', () => {
  it('test/direct-pm.test.ts with no tools: every skipped case is listed, each naming the tool it lacks', async () => {
    const { r, count, lines } = await vitest(['test/direct-pm.test.ts']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const summary = Number(/Tests +(\d+) skipped/.exec(r.stdout)?.[1]);
    expect(summary).toBeGreaterThan(0);
    expect(count).toBe(summary);
    expect(lines).toHaveLength(summary);
    for (const tool of ['pnpm@10.34.9', '@yarnpkg+cli-dist@4.18.1', 'yarn@1.22.22', 'bun@1.4.5', 'deno@2.9.6']) expect(lines.some((l) => l.includes(`[skipped: ${tool}/`)), tool).toBe(true);
    for (const line of lines) expect(line).toMatch(/^ {2}test\/direct-pm\.test\.ts > .*\[skipped: .+ not in the matrix tool cache .* \(npm run test:matrix fills it\)\]/);
  });

  it('every other file with matrix-tool cases: its tool cases are listed with why (-t selects just those)', async () => {
    const files = ['test/npx.test.ts', 'test/manifest.test.ts', 'test/readpkg-install.test.ts', 'test/workspace-globs.test.ts', 'test/reinstall-pm.test.ts', 'test/postinstall-shells.test.ts'];
    const { r, count, lines } = await vitest(files, ['-t', 'skipped: ']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(lines).toHaveLength(count);
    for (const file of files) expect(lines.filter((l) => l.startsWith(`  ${file} > `)).length, file).toBeGreaterThan(0);
    for (const line of lines) expect(line).toMatch(/[[(]skipped: .*(not in the (matrix )?(tool )?cache|is not in the tool cache)/);
  });
});
