// Replaced at build time by scripts/build.mjs (and in tests by vitest.config.ts).
declare const __BEACON_VERSION__: string;
export const BEACON_VERSION: string = typeof __BEACON_VERSION__ === 'string' ? __BEACON_VERSION__ : '0.0.0';
export const USER_AGENT = `install-beacon/${BEACON_VERSION}`;
