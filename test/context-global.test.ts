import { describe, expect, it } from 'vitest';
import { detectInstall } from '../src/context.js';

// Where each package manager runs a dependency's postinstall, as measured by
// npm run test:matrix (test/matrix/), and what {install} must say.
const cases: Array<{ name: string; env: Record<string, string>; pkgDir: string; want: 'local' | 'global' }> = [
  {
    name: 'pnpm 12 add -g (global virtual store; only INIT_CWD names the global dir)',
    env: { INIT_CWD: '/home/u/.local/share/pnpm/global/v11/5fb-18eb879e458f4653-0', npm_config_user_agent: 'pnpm/12.21.0 npm/? node/? linux x64' },
    pkgDir: '/home/u/.local/share/pnpm/store/v11/links/@/acme-lib/2.3.4/6c46/node_modules/.pnpm-1755c1dc',
    want: 'global',
  },
  {
    name: 'pnpm 10 add -g (the package folder is in the global dir)',
    env: { INIT_CWD: '/home/u/project' },
    pkgDir: '/home/u/.local/share/pnpm/global/5/node_modules/.pnpm/acme-lib@2.3.4/node_modules/acme-lib',
    want: 'global',
  },
  {
    name: 'pnpm add in a project',
    env: { INIT_CWD: '/home/u/app' },
    pkgDir: '/home/u/app/node_modules/.pnpm/acme-lib@2.3.4/node_modules/acme-lib',
    want: 'local',
  },
  {
    name: 'bun add -g',
    env: { INIT_CWD: '/home/u/.bun/install/global' },
    pkgDir: '/home/u/.bun/install/global/node_modules/acme-lib',
    want: 'global',
  },
];

describe('detectInstall', () => {
  for (const c of cases) {
    it(`${c.want} for ${c.name}`, () => {
      expect(detectInstall(c.env, c.pkgDir)).toBe(c.want);
    });
  }
});
