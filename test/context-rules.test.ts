import { describe, expect, it } from 'vitest';
import { detectCI, detectInstall, detectPM, GLOBAL_RULES } from '../src/context.js';

// Each rule of the context tables on its own: the vendor rule shapes of
// ci-info's vendors.json, every generic CI variable, every global-install
// signal. Found by mutation testing (npm run test:mutation).

describe('detectCI: every rule shape in vendors.json', () => {
  it.each([
    ['{env, includes}: Heroku by its node path', { NODE: '/app/.heroku/node/bin/node' }, true, 'heroku'],
    ['{env, includes}: another NODE is no vendor', { NODE: '/usr/bin/node' }, false, 'none'],
    ['{any}: Vercel by VERCEL alone', { VERCEL: '1' }, true, 'vercel'],
    ['{KEY: value}: Woodpecker by CI=woodpecker', { CI: 'woodpecker' }, true, 'woodpecker'],
    ['{KEY: value}: Codeship by CI_NAME=codeship', { CI_NAME: 'codeship' }, true, 'codeship'],
    ['{KEY: value}: another CI_NAME is generic CI', { CI_NAME: 'other' }, true, 'none'],
  ])('%s', (_what, env, ci, ciName) => {
    expect(detectCI(env)).toEqual({ ci, ciName });
  });

  it.each(['BUILD_ID', 'BUILD_NUMBER', 'CI', 'CI_APP_ID', 'CI_BUILD_ID', 'CI_BUILD_NUMBER', 'CI_NAME', 'CONTINUOUS_INTEGRATION', 'RUN_ID'])(
    'the generic variable %s alone means CI, no vendor',
    (key) => {
      expect(detectCI({ [key]: 'x1' })).toEqual({ ci: true, ciName: 'none' });
      expect(detectCI({ [key]: '' })).toEqual({ ci: false, ciName: 'none' });
    },
  );
});

describe('detectPM: the version is the whole second half of the first token', () => {
  it.each([
    [' npm/11.19.1 node/v20.20.2', 'npm', '11.19.1'],
    ['npm/v11.0.0 node/v20', 'npm', 'unknown'],
    ['npm/11.0.0<script> node/v20', 'npm', 'unknown'],
    ['yarn/4.18.1', 'yarn', '4.18.1'],
  ])('%j → %s %s', (ua, pm, pmVersion) => {
    expect(detectPM({ npm_config_user_agent: ua })).toEqual({ pm, pmVersion });
  });
});

describe('GLOBAL_RULES: each signal on its own', () => {
  // [the rule's `why`, env, package folder]: the rule fires, and the install is global.
  const cases: Array<[string, Record<string, string>, string]> = [
    ['npm -g (npm_config_global)', { npm_config_global: 'true' }, '/usr/lib/node_modules/acme-lib'],
    ['npm --location=global', { npm_config_location: 'global' }, '/usr/lib/node_modules/acme-lib'],
    ['yarn global add (npm_config_argv)', { npm_config_argv: JSON.stringify({ remain: ['acme-lib'], cooked: ['global', 'add'], original: ['global', 'add', 'acme-lib'] }) }, '/home/u/app/node_modules/acme-lib'],
    ["bun add -g (bun's global dir)", {}, '/home/u/.bun/install/global/node_modules/acme-lib'],
    ["pnpm add -g (pnpm's global dir)", {}, '/home/u/.local/share/pnpm/global/5/node_modules/acme-lib'],
    ["pnpm 11+ add -g (INIT_CWD in pnpm's global dir)", { INIT_CWD: '/home/u/.local/share/pnpm/global/v11/5fb' }, '/home/u/.local/share/pnpm/store/v11/links/acme-lib'],
    ["yarn global add (yarn's global dir)", {}, '/home/u/.config/yarn/global/node_modules/acme-lib'],
  ];

  it('covers every rule', () => {
    expect(cases.map((c) => c[0]).sort()).toEqual(GLOBAL_RULES.map((r) => r.why).sort());
  });

  it.each(cases)('%s', (why, env, dir) => {
    const fired = GLOBAL_RULES.filter((r) => r.test(env, dir)).map((r) => r.why);
    expect(fired).toContain(why);
    expect(detectInstall(env, dir)).toBe('global');
  });

  it.each([
    ['yarn 1 add in a project', { npm_config_argv: JSON.stringify({ original: ['add', 'acme-lib'] }) }],
    ['npm_config_argv that is not JSON', { npm_config_argv: '{global' }],
    ['npm_config_argv whose first word is not a string', { npm_config_argv: JSON.stringify({ original: [7] }) }],
    ['npm_config_argv with no original', { npm_config_argv: JSON.stringify({ cooked: ['global'] }) }],
    ['npm_config_global=false', { npm_config_global: 'false' }],
  ])('local: %s', (_what, env) => {
    expect(detectInstall(env, '/home/u/app/node_modules/acme-lib')).toBe('local');
  });
});
