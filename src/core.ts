// dist/core.cjs: the decision code, the commands and reportInstall, shipped
// once. dist/bin.cjs loads it once its cheap checks have passed; dist/index.cjs
// (the library entry) loads it on Node 18+. Built for Node 18 syntax.

export { run } from './cli.js';
export { reportInstall } from './runtime.js';
