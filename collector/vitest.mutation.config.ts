import { defineConfig } from 'vitest/config';

// The tests Stryker runs against each mutant: the table-driven unit tests of the pure modules
// (in memory, milliseconds a mutant); the suites that start a real collector test the same code
// through dist and are not run per mutant.
export default defineConfig({
  define: { __COLLECTOR_VERSION__: JSON.stringify('test') },
  test: { include: ['test/{periods,ratelimit,session,connections,batcher,body}*.test.ts'] },
});
