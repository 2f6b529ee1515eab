// The public API of install-beacon: reportInstall, and nothing else. Bundled
// into dist/cli.cjs (which holds the decision code anyway), so the code is
// shipped once; Node loads it through src/entry.ts.
export { reportInstall } from './runtime.js';
