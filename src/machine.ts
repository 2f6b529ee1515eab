import type { Env } from './env.js';

// The user account's opt-out: a file in its config dir, written by
// `install-beacon disable`. Its existence is the whole signal. It covers the
// processes that resolve the same dir (same HOME, XDG_CONFIG_HOME or APPDATA):
// root, sudo (which resets HOME) and CI users each have their own.

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
