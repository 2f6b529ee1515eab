// The library entry of install-beacon.
export { parseConfig, type BeaconConfig, type ConfigResult } from './config.js';
export { ENV_OPT_OUTS } from './optout.js';
export { VARIABLES, VARIABLE_DOCS, type VarName } from './template.js';
