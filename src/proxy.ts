import type { Env } from './env.js';

// Which proxy, if any, a request to `target` goes through: the conventional
// variables (either case) and npm's own settings, as npm passes them to
// lifecycle scripts (npm_config_https_proxy, npm_config_proxy, npm_config_noproxy).

const HTTPS_PROXY_VARS = ['HTTPS_PROXY', 'https_proxy', 'npm_config_https_proxy', 'HTTP_PROXY', 'http_proxy', 'npm_config_proxy'];
const HTTP_PROXY_VARS = ['HTTP_PROXY', 'http_proxy', 'npm_config_proxy'];
const NO_PROXY_VARS = ['NO_PROXY', 'no_proxy', 'npm_config_noproxy'];

const usable = (v: string | undefined): v is string => !!v && v !== 'null' && v !== 'false';

function bypassed(target: URL, env: Env): boolean {
  const host = target.hostname.toLowerCase().replace(/^\[|\]$/g, '');
  const port = target.port || (target.protocol === 'https:' ? '443' : '80');
  const entries = NO_PROXY_VARS.map((k) => env[k]).filter(usable).join(',').split(/[\s,]+/).filter(Boolean);
  return entries.some((raw) => {
    if (raw === '*') return true;
    const entry = raw.toLowerCase();
    // host:port entries (not IPv6 literals) only apply to that port.
    const portMatch = /^(.*?[^:\]]):(\d+)$/.exec(entry) ?? /^(\[.*\]):(\d+)$/.exec(entry);
    if (portMatch && portMatch[2] !== port) return false;
    const pattern = (portMatch ? portMatch[1] ?? '' : entry).replace(/^\[|\]$/g, '').replace(/^\*?\./, '');
    return host === pattern || host.endsWith(`.${pattern}`);
  });
}

/** The proxy URL for a request to `target`, or undefined to connect directly. */
export function proxyFor(target: URL, env: Env): URL | undefined {
  if (bypassed(target, env)) return undefined;
  const vars = target.protocol === 'https:' ? HTTPS_PROXY_VARS : HTTP_PROXY_VARS;
  for (const key of vars) {
    const value = env[key];
    if (!usable(value)) continue;
    try {
      // A bare "host:port" means http://host:port, as curl and npm read it.
      return new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`);
    } catch {
      continue; // a malformed value is ignored, as if unset
    }
  }
  return undefined;
}
