import type { Env } from './env.js';

// Opt-out variables as data. Each row spells out which values mean "opt out",
// so the README, `explain` and the tests all read the same table.
//
// DO_NOT_TRACK follows https://consoledonottrack.com: any value opts out except
// an explicit "no" (empty, 0, false, no). Scarf's variables keep Scarf's meaning
// but accept every common spelling (Scarf itself only honours the exact strings
// "false" and "true"/"1", see shared research).

const normalise = (value: string): string => value.trim().toLowerCase();
const oneOf = (...words: string[]) => (value: string): boolean => words.includes(normalise(value));

/** A switch variable that is on: 1, true or yes (any case, surrounding spaces ignored). */
export const isOn = (value: string | undefined): boolean => value !== undefined && oneOf('1', 'true', 'yes')(value);

export interface EnvOptOut {
  name: string;
  /** Human description of the values that opt out. */
  values: string;
  optsOut: (value: string) => boolean;
}

export const ENV_OPT_OUTS: readonly EnvOptOut[] = [
  { name: 'DO_NOT_TRACK', values: 'anything but empty, 0, false or no', optsOut: (v) => !oneOf('', '0', 'false', 'no')(v) },
  { name: 'SCARF_ANALYTICS', values: 'false, 0 or no', optsOut: oneOf('false', '0', 'no') },
  { name: 'SCARF_NO_ANALYTICS', values: '1, true or yes', optsOut: oneOf('1', 'true', 'yes') },
  { name: 'INSTALL_BEACON_DISABLED', values: '1, true or yes', optsOut: oneOf('1', 'true', 'yes') },
];

/** The first opt-out variable set in `env` to a value that opts out. */
export function envOptOut(env: Env): { name: string; value: string } | undefined {
  for (const row of ENV_OPT_OUTS) {
    const value = env[row.name];
    if (value !== undefined && row.optsOut(value)) return { name: row.name, value };
  }
  return undefined;
}

/** True when `path` (a directory) lies inside a node_modules folder. */
export function insideNodeModules(path: string): boolean {
  return /[\\/]node_modules([\\/]|$)/.test(path);
}
