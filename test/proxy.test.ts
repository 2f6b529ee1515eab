import { describe, expect, it } from 'vitest';
import { proxyFor } from '../src/proxy.js';

const https = new URL('https://acme.gateway.scarf.sh/x');
const http = new URL('http://127.0.0.1:7707/x');

describe('proxyFor', () => {
  it.each([
    ['no proxy set', https, {}, undefined],
    ['HTTPS_PROXY', https, { HTTPS_PROXY: 'http://proxy:3128' }, 'http://proxy:3128/'],
    ['https_proxy', https, { https_proxy: 'http://p:1' }, 'http://p:1/'],
    ['npm_config_https_proxy', https, { npm_config_https_proxy: 'http://p:2' }, 'http://p:2/'],
    ['HTTP_PROXY as fallback for https', https, { HTTP_PROXY: 'http://p:3' }, 'http://p:3/'],
    ['npm_config_proxy as fallback for https', https, { npm_config_proxy: 'http://p:4' }, 'http://p:4/'],
    ['HTTPS_PROXY wins over HTTP_PROXY', https, { HTTP_PROXY: 'http://a:1', HTTPS_PROXY: 'http://b:2' }, 'http://b:2/'],
    ['a bare host:port', https, { HTTPS_PROXY: 'proxy:3128' }, 'http://proxy:3128/'],
    ['HTTPS_PROXY is not used for http', http, { HTTPS_PROXY: 'http://p:1' }, undefined],
    ['HTTP_PROXY for http', http, { HTTP_PROXY: 'http://p:5' }, 'http://p:5/'],
    ['npm_config_proxy for http', http, { npm_config_proxy: 'http://p:6' }, 'http://p:6/'],
    ['npm writes "null" for unset', https, { npm_config_https_proxy: 'null' }, undefined],
    ['a malformed value is ignored', https, { HTTPS_PROXY: 'http://[bad', HTTP_PROXY: 'http://ok:1' }, 'http://ok:1/'],
    ['NO_PROXY exact host', https, { HTTPS_PROXY: 'http://p:1', NO_PROXY: 'acme.gateway.scarf.sh' }, undefined],
    ['no_proxy domain suffix', https, { HTTPS_PROXY: 'http://p:1', no_proxy: 'scarf.sh' }, undefined],
    ['NO_PROXY leading dot', https, { HTTPS_PROXY: 'http://p:1', NO_PROXY: '.scarf.sh' }, undefined],
    ['NO_PROXY *.', https, { HTTPS_PROXY: 'http://p:1', NO_PROXY: '*.scarf.sh' }, undefined],
    ['NO_PROXY *', https, { HTTPS_PROXY: 'http://p:1', NO_PROXY: '*' }, undefined],
    ['NO_PROXY list with spaces', https, { HTTPS_PROXY: 'http://p:1', NO_PROXY: 'foo.com, scarf.sh' }, undefined],
    ['NO_PROXY other host', https, { HTTPS_PROXY: 'http://p:1', NO_PROXY: 'example.com' }, 'http://p:1/'],
    ['NO_PROXY is not a substring match', https, { HTTPS_PROXY: 'http://p:1', NO_PROXY: 'carf.sh' }, 'http://p:1/'],
    ['NO_PROXY with the right port', https, { HTTPS_PROXY: 'http://p:1', NO_PROXY: 'acme.gateway.scarf.sh:443' }, undefined],
    ['NO_PROXY with another port', https, { HTTPS_PROXY: 'http://p:1', NO_PROXY: 'acme.gateway.scarf.sh:8443' }, 'http://p:1/'],
    ['npm_config_noproxy', http, { HTTP_PROXY: 'http://p:1', npm_config_noproxy: '127.0.0.1' }, undefined],
    ['NO_PROXY ip with port', http, { HTTP_PROXY: 'http://p:1', NO_PROXY: '127.0.0.1:7707' }, undefined],
  ])('%s', (_name, target, env, expected) => {
    expect(proxyFor(target, env)?.href).toBe(expected);
  });
});
