import { readFileSync } from 'node:fs';
import { configDefaults, defineConfig } from 'vitest/config';

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as { version: string };

export default defineConfig({
  define: { __BEACON_VERSION__: JSON.stringify(pkg.version) },
  test: {
    include: ['test/**/*.test.ts'],
    // Every skipped case by name, with why (a missing tool), after the totals.
    reporters: ['default', './test/support/skipped-reporter.ts'],
    exclude: [...configDefaults.exclude, 'test/faults/**'], // npm run test:faults
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration tests spawn real processes: keep the 2-core machine from thrashing.
    maxWorkers: 2,
  },
});
