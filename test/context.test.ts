import { describe, expect, it } from 'vitest';
import { detectCI, detectContainer, detectInstall, detectLibc, detectPM, detectPMFromTree } from '../src/context.js';
import { MemFs } from './support/memfs.js';

describe('detectCI', () => {
  it.each([
    [{}, false, 'none'],
    [{ CI: 'true' }, true, 'none'],
    [{ CI: '1' }, true, 'none'],
    [{ CI: 'false' }, false, 'none'],
    [{ CI: 'false', GITHUB_ACTIONS: 'true' }, false, 'none'],
    [{ CONTINUOUS_INTEGRATION: 'true' }, true, 'none'],
    [{ BUILD_NUMBER: '7' }, true, 'none'],
    [{ RUN_ID: '3' }, true, 'none'],
    [{ GITHUB_ACTIONS: 'true', CI: 'true' }, true, 'github-actions'],
    [{ GITLAB_CI: 'true' }, true, 'gitlab'],
    [{ CIRCLECI: 'true' }, true, 'circle'],
    [{ TRAVIS: 'true' }, true, 'travis'],
    [{ TF_BUILD: 'True' }, true, 'azure-pipelines'],
    [{ BUILDKITE: 'true' }, true, 'buildkite'],
    [{ JENKINS_URL: 'http://j', BUILD_ID: '1' }, true, 'jenkins'],
    [{ CODEBUILD_BUILD_ARN: 'arn' }, true, 'codebuild'],
    [{ NETLIFY: 'true' }, true, 'netlify'],
    [{ NOW_BUILDER: '1' }, true, 'vercel'],
  ])('%j → ci=%s name=%s', (env, ci, ciName) => {
    expect(detectCI(env)).toEqual({ ci, ciName });
  });
});

describe('detectContainer', () => {
  it.each([
    [{}, {}, false, 'none'],
    [{}, {}, true, 'docker'],
    [{}, { '/run/.containerenv': '' }, false, 'podman'],
    [{}, { '/run/.containerenv': '' }, true, 'podman'],
    [{ KUBERNETES_SERVICE_HOST: '10.0.0.1' }, {}, true, 'kubernetes'],
    [{ KUBERNETES_SERVICE_HOST: '' }, {}, false, 'none'],
  ])('env %j files %j docker=%s → %s', (env, files, docker, expected) => {
    expect(detectContainer(env, new MemFs(files).probes(docker))).toBe(expected);
  });

  it('checks the environment before touching the file system', () => {
    const fs = new MemFs();
    detectContainer({ KUBERNETES_SERVICE_HOST: 'x' }, fs.probes(true));
    expect(fs.calls).toEqual([]);
  });
});

describe('detectPM', () => {
  it.each([
    ['npm/11.19.1 node/v20.20.2 linux x64 workspaces/false', 'npm', '11.19.1'],
    ['pnpm/10.34.9 npm/? node/v20.20.2 linux x64', 'pnpm', '10.34.9'],
    ['yarn/1.22.22 npm/? node/v20.20.2 linux x64', 'yarn', '1.22.22'],
    ['yarn/4.18.1 npm/? node/v20.20.2 linux x64', 'yarn', '4.18.1'],
    ['bun/1.4.5 npm/? node/v26.3.0 linux x64', 'bun', '1.4.5'],
    ['deno/2.9.6 npm/? deno/2.9.6 linux x86_64', 'deno', '2.9.6'],
    ['cnpm/1.0 node/v20', 'unknown', 'unknown'],
    ['npm', 'npm', 'unknown'],
    ['npm/<script>', 'npm', 'unknown'],
    ['', 'unknown', 'unknown'],
    [undefined, 'unknown', 'unknown'],
  ])('%j → %s %s', (ua, pm, pmVersion) => {
    expect(detectPM({ npm_config_user_agent: ua })).toEqual({ pm, pmVersion });
  });
});

describe('detectInstall', () => {
  it.each([
    [{}, '/app/node_modules/acme-lib', 'local'],
    [{ npm_config_global: 'true' }, '/usr/lib/node_modules/acme-lib', 'global'],
    [{ npm_config_global: '' }, '/app/node_modules/acme-lib', 'local'],
    [{ npm_config_location: 'global' }, '/usr/lib/node_modules/acme-lib', 'global'],
    [{ npm_config_argv: '{"remain":[],"cooked":["global","add"],"original":["global","add","acme-lib"]}' }, '/h/.config/yarn/global/node_modules/acme-lib', 'global'],
    [{ npm_config_argv: '{"original":["add","acme-lib"]}' }, '/app/node_modules/acme-lib', 'local'],
    [{ npm_config_argv: 'not json' }, '/app/node_modules/acme-lib', 'local'],
    [{}, '/root/.bun/install/global/node_modules/acme-lib', 'global'],
    [{}, '/root/.local/share/pnpm/global/5/node_modules/.pnpm/acme-lib@2.3.4/node_modules/acme-lib', 'global'],
    [{}, '/root/.config/yarn/global/node_modules/acme-lib', 'global'],
  ])('%j in %s → %s', (env, dir, expected) => {
    expect(detectInstall(env, dir)).toBe(expected);
  });
});

describe('detectLibc', () => {
  it.each([
    ['darwin', {}, 'none'],
    ['win32', {}, 'none'],
    ['linux', { '/lib/ld-musl-x86_64.so.1': '' }, 'musl'],
    ['linux', { '/lib/ld-musl-aarch64.so.1': '' }, 'musl'],
    ['linux', { '/lib/x86_64-linux-gnu/libc.so.6': '' }, 'glibc'],
    ['linux', {}, 'glibc'],
  ])('%s with %j → %s', (platform, files, expected) => {
    expect(detectLibc(platform, new MemFs(files).probes())).toBe(expected);
  });
});

describe('detectPMFromTree (runtime trigger, no user agent)', () => {
  it.each([
    ['/app/node_modules/.pnpm/acme-lib@2.3.4/node_modules/acme-lib', {}, 'pnpm'],
    ['/app/.yarn/cache/acme-lib-npm-2.3.4-x.zip/node_modules/acme-lib', {}, 'yarn'],
    ['/app/.yarn/unplugged/acme-lib-npm-2.3.4-x/node_modules/acme-lib', {}, 'yarn'],
    ['/app/node_modules/acme-lib', { '/app/bun.lock': '' }, 'bun'],
    ['/app/node_modules/acme-lib', { '/app/bun.lockb': '' }, 'bun'],
    ['/app/node_modules/.deno/acme-lib@2.3.4/node_modules/acme-lib', { '/app/node_modules/.deno': '' }, 'deno'],
    ['/app/node_modules/acme-lib (deno.lock alone: a Deno project whose node_modules another manager made)', { '/app/deno.lock': '' }, 'unknown'],
    ["/root/.cache/deno/npm/registry.npmjs.org/acme-lib/2.3.4 (Deno's npm cache)", { '/root/.cache/deno/npm/registry.npmjs.org/acme-lib/registry.json': '' }, 'deno'],
    ['/root/.cache/deno/npm/registry.npmjs.org/acme-lib/2.3.4 without registry.json', {}, 'unknown'],
    ['/app/node_modules/acme-lib', { '/app/yarn.lock': '' }, 'yarn'],
    ['/app/node_modules/acme-lib', { '/app/pnpm-lock.yaml': '' }, 'pnpm'],
    ['/app/node_modules/acme-lib', { '/app/package-lock.json': '' }, 'npm'],
    ['/app/node_modules/acme-lib', { '/app/node_modules/.package-lock.json': '' }, 'npm'],
    ['/app/node_modules/acme-lib', {}, 'unknown'],
  ])('%s with %j → %s', (dir, files, pm) => {
    expect(detectPMFromTree(dir.replace(/ .*$/, ''), '/app', new MemFs(files).probes())).toEqual({ pm, pmVersion: 'unknown' });
  });
});
