import { defineConfig } from 'vitest/config';

export default defineConfig({
  define: { __COLLECTOR_VERSION__: JSON.stringify('test') },
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['**/node_modules/**', 'test/faults/**'], // npm run test:faults
    testTimeout: 60_000,
    hookTimeout: 180_000,
    // Tests start real servers and databases: keep the 2-core machine from thrashing.
    maxWorkers: 2,
  },
});
