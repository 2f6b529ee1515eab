import { readFileSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as { version: string };

// The fault suite (npm run test:faults): every case spawns the built bin or a
// real npm install, so it runs apart from `npm test`.
export default defineConfig({
  define: { __BEACON_VERSION__: JSON.stringify(pkg.version) },
  test: {
    include: ['test/faults/**/*.test.ts'],
    globalSetup: ['test/faults/global.ts'],
    reporters: ['default', './test/faults/reporter.ts'],
    testTimeout: 60_000,
    hookTimeout: 300_000,
    // Cases spawn real processes and hold timing bounds, and the heavy cases run
    // several npm installs at once: one file at a time, so no file's load skews
    // another's bounds on a 2-core machine.
    fileParallelism: false,
    maxWorkers: 1,
    minWorkers: 1,
  },
});
