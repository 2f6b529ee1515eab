// Mutation testing of the core modules (npm run test:mutation): every
// surviving mutant is a change to the code no unit test notices. Survivors in
// these files are either killed by a test or explained, next to the code, as
// equivalent (a change that cannot alter behaviour).
// @ts-check
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts' },
  mutate: ['src/decide.ts', 'src/marker.ts', 'src/optout.ts', 'src/template.ts', 'src/config.ts', 'src/context.ts', 'src/layout.ts'],
  coverageAnalysis: 'perTest',
  // CPU is scarce where this runs (2 cores, shared): one or two test processes.
  concurrency: 2,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
  thresholds: { high: 90, low: 80, break: null },
};
