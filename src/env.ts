// The one module that reads the process's ambient state (environment, cwd,
// platform). Everything else takes these values as arguments, so the decision
// logic can be driven by plain objects in tests.

export type Env = Readonly<Record<string, string | undefined>>;

export interface Host {
  /** Live `process.env` (kept as-is: on Windows its keys are case-insensitive). */
  env: Env;
  cwd: string;
  platform: string;
  arch: string;
  /** Without the leading "v", e.g. "20.20.2". */
  nodeVersion: string;
  execPath: string;
}

export function currentHost(): Host {
  return {
    env: process.env,
    cwd: process.cwd(),
    platform: process.platform,
    arch: process.arch,
    nodeVersion: process.versions.node,
    execPath: process.execPath,
  };
}

/** Node's major version, or 0 if it cannot be read. */
export function nodeMajor(version: string): number {
  const major = parseInt(version.split('.')[0] ?? '', 10);
  return Number.isFinite(major) ? major : 0;
}
