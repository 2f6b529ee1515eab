import type { Env } from './env.js';

// The machine-wide opt-out: a file in the user's config dir, written by
// `install-beacon disable`. Its existence is the whole signal.

export function configDir(env: Env, platform: string): string | undefined {
  if (platform === 'win32') return env.APPDATA || undefined;
  const xdg = env.XDG_CONFIG_HOME;
  if (xdg && xdg.startsWith('/')) return xdg; // the XDG spec says relative values are ignored
  return env.HOME ? `${env.HOME}/.config` : undefined;
}

export function optOutFile(env: Env, platform: string): string | undefined {
  const dir = configDir(env, platform);
  return dir ? `${dir}/install-beacon/disabled` : undefined;
}
