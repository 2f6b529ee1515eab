// Mutation testing of the collector's pure modules (npm run test:mutation -w install-beacon-collector):
// every surviving mutant is a change to the code that no unit test notices. The modules that
// decide what a request gets (periods, rate limit, sessions, connection caps, badges, batching)
// are mutated; the effectful shell (main.ts, storage) is covered by the integration and fault suites.
// @ts-check
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts' },
  mutate: ['src/periods.ts', 'src/ratelimit.ts', 'src/session.ts', 'src/connections.ts', 'src/badge.ts', 'src/batcher.ts', 'src/body.ts'],
  coverageAnalysis: 'perTest',
  concurrency: 2,
  reporters: ['clear-text', 'progress', 'json'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
  thresholds: { high: 90, low: 80, break: null },
};
