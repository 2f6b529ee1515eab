// The library entry of install-beacon (Node). Browsers get dist/browser.mjs, a no-op.
export { reportInstall } from './runtime.js';
export { parseConfig, type BeaconConfig, type ConfigResult } from './config.js';
export { ENV_OPT_OUTS } from './optout.js';
export { VARIABLES, VARIABLE_DOCS, type VarName } from './template.js';
