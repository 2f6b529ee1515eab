import { defineConfig } from 'vitest/config';

// The collector's fault suite (npm run test:faults): kill -9 and a database
// restart under load. One file at a time: each drives real processes hard.
export default defineConfig({
  define: { __COLLECTOR_VERSION__: JSON.stringify('test') },
  test: {
    include: ['test/faults/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    fileParallelism: false,
    maxWorkers: 1,
    minWorkers: 1,
  },
});
