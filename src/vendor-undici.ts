// The proxy-capable HTTP client, bundled into its own file (dist/undici.cjs) so
// that only a send through a proxy pays for loading it.
export { Pool, ProxyAgent } from 'undici';
