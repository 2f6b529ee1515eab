import { describe, expect, it } from 'vitest';
import { ENV_OPT_OUTS, envOptOut, insideNodeModules, isOn } from '../src/optout.js';

// Every opt-out variable against every interesting value: [variable, value, opts out?]
const cases: Array<[string, string, boolean]> = [
  ['DO_NOT_TRACK', '1', true],
  ['DO_NOT_TRACK', 'true', true],
  ['DO_NOT_TRACK', 'TRUE', true],
  ['DO_NOT_TRACK', 'yes', true],
  ['DO_NOT_TRACK', 'anything', true],
  ['DO_NOT_TRACK', ' 1 ', true],
  ['DO_NOT_TRACK', '', false],
  ['DO_NOT_TRACK', '0', false],
  ['DO_NOT_TRACK', 'false', false],
  ['DO_NOT_TRACK', 'False', false],
  ['DO_NOT_TRACK', 'no', false],
  ['DO_NOT_TRACK', 'NO', false],
  ['SCARF_ANALYTICS', 'false', true],
  ['SCARF_ANALYTICS', 'FALSE', true],
  ['SCARF_ANALYTICS', '0', true],
  ['SCARF_ANALYTICS', 'no', true],
  ['SCARF_ANALYTICS', 'true', false],
  ['SCARF_ANALYTICS', '1', false],
  ['SCARF_ANALYTICS', '', false],
  ['SCARF_NO_ANALYTICS', '1', true],
  ['SCARF_NO_ANALYTICS', 'true', true],
  ['SCARF_NO_ANALYTICS', 'Yes', true],
  ['SCARF_NO_ANALYTICS', '0', false],
  ['SCARF_NO_ANALYTICS', 'false', false],
  ['SCARF_NO_ANALYTICS', '', false],
  ['INSTALL_BEACON_DISABLED', '1', true],
  ['INSTALL_BEACON_DISABLED', 'true', true],
  ['INSTALL_BEACON_DISABLED', 'yes', true],
  ['INSTALL_BEACON_DISABLED', '0', false],
  ['INSTALL_BEACON_DISABLED', 'no', false],
  ['INSTALL_BEACON_DISABLED', '', false],
];

describe('envOptOut', () => {
  it.each(cases)('%s=%j opts out: %s', (name, value, expected) => {
    const result = envOptOut({ [name]: value });
    expect(result).toEqual(expected ? { name, value } : undefined);
  });

  it('is undefined with no variables set', () => {
    expect(envOptOut({ PATH: '/bin', CI: 'true' })).toBeUndefined();
  });

  it('covers every row of the table in the cases above', () => {
    expect(new Set(cases.map((c) => c[0]))).toEqual(new Set(ENV_OPT_OUTS.map((r) => r.name)));
  });

  it('reports the first variable of the table that opts out', () => {
    expect(envOptOut({ SCARF_NO_ANALYTICS: '1', DO_NOT_TRACK: '1' })?.name).toBe('DO_NOT_TRACK');
    expect(envOptOut({ SCARF_NO_ANALYTICS: '1', DO_NOT_TRACK: '0' })?.name).toBe('SCARF_NO_ANALYTICS');
  });
});

describe('insideNodeModules', () => {
  it.each([
    ['/app/node_modules/acme-lib', true],
    ['/app/node_modules/.pnpm/acme-lib@2.3.4/node_modules/acme-lib', true],
    ['/app/.yarn/unplugged/acme-lib-npm-2.3.4-abc/node_modules/acme-lib', true],
    ['C:\\app\\node_modules\\acme-lib', true],
    ['/usr/lib/node_modules', true],
    ['/home/me/acme-lib', false],
    ['/home/me/my_node_modules_fan/acme', false],
    ['/home/me/node_modules2/acme', false],
  ])('%s → %s', (path, expected) => {
    expect(insideNodeModules(path)).toBe(expected);
  });
});

describe('isOn (INSTALL_BEACON_DEBUG, npm_config_offline)', () => {
  it.each([
    ['1', true], ['true', true], ['TRUE', true], ['yes', true], [' yes ', true],
    ['0', false], ['false', false], ['no', false], ['', false], ['on', false], [undefined, false],
  ])('%j → %s', (value, expected) => {
    expect(isOn(value)).toBe(expected);
  });
});
