import { isObject, parseConfig, projectOptOut, str, type BeaconConfig } from './config.js';
import { detectCI, detectContainer, detectInstall, detectPM, detectPMFromTree, type Probes } from './context.js';
import type { Env } from './env.js';
import { detectDirect, type DirectProbes } from './direct.js';
import { enclosingWorkspaceRoot, installSite, type InstallSite, type LayoutProbes } from './layout.js';
import { detectLibcFamily, detectLibcVersion, loaderOn } from './libc.js';
import { claim as claimMarker, isReported, markerLocation, type Claim, type MarkerFs, type MarkerLocation } from './marker.js';
import { envOptOut, insideNodeModules, isOn } from './optout.js';
import { LATE_VARIABLES, lateMark, renderTemplate, type Values, type VarName } from './template.js';

// The decision, as a pure function of its inputs: environment, file probes,
// marker file system and id source are all passed in. First matching rule wins.

export type Trigger = 'postinstall' | 'runtime';

export interface DecideProbes extends Probes, LayoutProbes, DirectProbes {
  /** Parsed JSON, or undefined when missing or malformed (never throws). */
  readJson(path: string): unknown;
}

export interface DecideInput {
  env: Env;
  /** The package folder: the lifecycle cwd, or the folder holding the caller's package.json. */
  pkgDir: string;
  /** The process's folder: at run time, where the project linking a shared pnpm store is looked for. */
  cwd?: string;
  /** A URL template given on the command line (wins over package.json). */
  positional?: string;
  trigger: Trigger;
  platform: string;
  arch: string;
  nodeVersion: string;
  /** Node's executable: its ELF interpreter names the C library in use ({libc}, {libc_version}). */
  execPath?: string;
  beaconVersion: string;
  /** Evaluate as if installed as a dependency (`explain` and `check` in the author's repo). */
  asDependency?: boolean;
  /** Also render the URL for a skip after the config was read (`explain`: "what would be sent"). */
  describeSkips?: boolean;
  /**
   * The postinstall hook: with background delivery, leave LATE_VARIABLES to the
   * detached sender (the URL holds their marks; `late` names them), so the
   * install never waits for the files they read.
   */
  deferLate?: boolean;
  /** Path of the machine-wide opt-out file, if a config dir is known. */
  machineOptOutFile?: string;
  probes: DecideProbes;
  marker: MarkerFs;
  newId(): string;
  /** The clock, in ms since the epoch (marker ages). */
  now: number;
}

export type RuleId =
  | 'env-opt-out' | 'self-install' | 'config' | 'project-opt-out' | 'machine-opt-out'
  | 'offline' | 'ci-disabled' | 'already-reported' | 'send';

export interface Decision {
  send: boolean;
  rule: RuleId;
  /** One sentence a person can read. */
  reason: string;
  name?: string;
  version?: string;
  config?: BeaconConfig;
  /** Config problems and warnings, for `check` and `explain`. */
  problems?: string[];
  url?: string;
  values?: Partial<Values>;
  /** Variables whose marks in `url` the background sender fills in (deferLate). */
  late?: VarName[];
  delivery?: 'inline' | 'background';
  /** Where the package was installed (layout.ts). */
  site?: InstallSite;
  /** Where this install's marker is or would be (none when the package is in no installed tree). */
  marker?: MarkerLocation;
  /** The mtime of the package's package.json (a newer one than the marker's is a new install). */
  pkgMtimeMs?: number;
}

/**
 * The project folders whose package.json opt-out covers an install in `site`:
 * the project installed into, then the workspace root that lists it as a
 * member (a member's copies that npm or pnpm could not hoist, or pnpm's
 * per-member lockfiles, stay in its own node_modules; the monorepo's opt-out
 * still covers them), whichever layout the tree has.
 */
export function projectRoots(site: InstallSite | undefined, probes: Pick<DecideProbes, 'readJson' | 'readText'>): string[] {
  if (!site) return [];
  const ws = enclosingWorkspaceRoot(site.projectRoot, probes.readJson, probes.readText);
  return ws ? [site.projectRoot, ws] : [site.projectRoot];
}

/** The install site, with what finds the project of a shared pnpm store: the INIT_CWD pnpm gives its scripts (an install's, a `pnpm run`'s: the project), or the cwd. */
export const siteOf = (i: Pick<DecideInput, 'env' | 'pkgDir' | 'cwd' | 'probes'>): InstallSite | undefined =>
  installSite(i.pkgDir, i.probes, detectPM(i.env).pm === 'pnpm' ? i.env.INIT_CWD : undefined, i.cwd);

const pkgJsonOf = (root: string): string => `${root.replace(/[\\/]$/, '')}/package.json`;

export function decide(input: DecideInput): Decision {
  const { env, pkgDir, probes } = input;

  // 1. Opt-outs in the environment: no file is read before this check.
  const optOut = envOptOut(env);
  if (optOut) return { send: false, rule: 'env-opt-out', reason: `${optOut.name}=${optOut.value} is set` };

  // 2. The author's own development install.
  if (!input.asDependency && !insideNodeModules(pkgDir)) {
    return { send: false, rule: 'self-install', reason: `${pkgDir} is not inside node_modules (the author's own install)` };
  }

  // 3. The author's config.
  const pkg = probes.readJson(`${pkgDir}/package.json`);
  if (!isObject(pkg)) return { send: false, rule: 'config', reason: `cannot read ${pkgDir}/package.json`, problems: ['package.json is missing or not valid JSON'] };
  const name = str(pkg.name) ?? 'unknown';
  const version = str(pkg.version) ?? 'unknown';
  const parsed = parseConfig(pkg.installBeacon, input.positional);
  if (!parsed.ok) return { send: false, rule: 'config', reason: `invalid configuration: ${parsed.errors[0]}`, name, version, problems: [...parsed.errors, ...parsed.warnings] };
  const config = parsed.config;
  // For `explain`, a skip still shows the URL an install without that rule would request.
  const wouldSend = () => (input.describeSkips ? { url: renderTemplate(config.template, contextFacts(input, name, version, config.template.variables).values) } : {});
  const base = { name, version, config, problems: parsed.warnings };
  if (parsed.disabledByAuthor) return { ...base, ...wouldSend(), send: false, rule: 'config', reason: 'the author set "installBeacon.enabled" to false' };

  // 4. The project installed into (from where the package is, never from where
  // the package manager was started: INIT_CWD is a subfolder for `cd src && npm
  // install`, and elsewhere for `npm install --prefix`), then the machine.
  const site = siteOf(input);
  for (const root of projectRoots(site, probes)) {
    const setting = projectOptOut(probes.readJson(pkgJsonOf(root)));
    if (setting) return { ...base, ...wouldSend(), site, send: false, rule: 'project-opt-out', reason: `the project's package.json (${root}) has ${setting}` };
  }
  if (input.machineOptOutFile && probes.exists(input.machineOptOutFile)) {
    return { ...base, ...wouldSend(), send: false, rule: 'machine-opt-out', reason: `this user account opted out (${input.machineOptOutFile}, from "install-beacon disable")` };
  }

  // 5. npm offline mode.
  if (isOn(env.npm_config_offline)) return { ...base, ...wouldSend(), send: false, rule: 'offline', reason: 'npm runs in offline mode (npm_config_offline)' };

  // 6. CI, when the author asked to skip it.
  const { ci, ciName } = detectCI(env);
  if (ci && !config.ci) return { ...base, ...wouldSend(), send: false, rule: 'ci-disabled', reason: `a CI install${ciName !== 'none' ? ` (${ciName})` : ''} and the author set "ci": false` };

  // 7. This install already reported.
  // One marker per name@version per tree: nested copies of one version are one install.
  const marker = site && markerLocation(site, name, version);
  const pkgMtimeMs = input.marker.stat(`${pkgDir}/package.json`)?.mtimeMs ?? 0;
  if (marker && isReported(marker, input.marker, input.now, pkgMtimeMs)) {
    return { ...base, ...wouldSend(), site, marker, pkgMtimeMs, send: false, rule: 'already-reported', reason: 'this install already reported; re-runs such as npm rebuild send nothing (a fresh install, e.g. npm ci, reports again)' };
  }

  // 8. Send.
  const variables = [...config.template.variables];
  let late = input.deferLate ? variables.filter((v) => LATE_VARIABLES.has(v)) : [];
  const facts = contextFacts(input, name, version, variables.filter((v) => !late.includes(v)), { ci, ciName }, site);
  // auto: a detached process dies with a CI job or a container, so send in-process there.
  const delivery = config.delivery !== 'auto' ? config.delivery : ci || facts.container() !== 'none' ? 'inline' : 'background';
  const values = facts.values;
  if (delivery === 'inline' && late.length) {
    // Inline after all: computed here. (Equivalent mutant: {} for the CI facts, which no late variable reads.)
    Object.assign(values, contextFacts(input, name, version, late, { ci, ciName }, site).values);
    late = [];
  }
  const url = renderTemplate(config.template, { ...values, ...Object.fromEntries(late.map((v) => [v, lateMark(v)])) });
  return { ...base, site, marker, pkgMtimeMs, send: true, rule: 'send', reason: 'no opt-out or skip rule applies', url, values, delivery, ...(late.length ? { late } : {}) };
}

/**
 * The template values for this install (only the variables asked for are
 * computed), plus the container check that delivery needs.
 */
export function contextFacts(
  input: Pick<DecideInput, 'env' | 'pkgDir' | 'trigger' | 'cwd' | 'platform' | 'arch' | 'nodeVersion' | 'execPath' | 'beaconVersion' | 'probes' | 'newId'>,
  name: string,
  version: string,
  variables: Iterable<VarName>,
  ciFacts: { ci: boolean; ciName: string } = detectCI(input.env),
  /** Where the package was installed, when the caller already knows (decide); else looked up once, if a variable needs it. */
  knownSite?: InstallSite,
): { values: Partial<Values>; container: () => string } {
  const { env, probes } = input;
  const { ci, ciName } = ciFacts;
  let container: string | undefined;
  const containerOf = () => (container ??= detectContainer(env, probes));
  // {pm} from the tree and {direct} both need it; under Yarn PnP it asks the PnP runtime.
  let site: { s?: InstallSite } | undefined = knownSite && { s: knownSite };
  const siteHere = () => (site ??= { s: siteOf(input) }).s;
  // {libc} and {libc_version} both read Node's executable for its loader.
  let loader: { found: ReturnType<typeof loaderOn> } | undefined;
  const loaderOf = () => (loader ??= { found: loaderOn(input.platform, input.execPath, probes) }).found;
  let pm: { pm: string; pmVersion: string } | undefined;
  const pmOf = () => {
    if (pm) return pm;
    const fromAgent = detectPM(env);
    // No user agent (the runtime trigger, or explain): the tree's layout and lockfile tell.
    pm = fromAgent.pm !== 'unknown' ? fromAgent : detectPMFromTree(input.pkgDir, siteHere()?.projectRoot, probes);
    return pm;
  };
  const compute: Record<VarName, () => string> = {
    name: () => name,
    version: () => version,
    platform: () => input.platform,
    arch: () => input.arch,
    node: () => input.nodeVersion,
    ci: () => String(ci),
    ci_name: () => ciName,
    container: containerOf,
    pm: () => pmOf().pm,
    pm_version: () => pmOf().pmVersion,
    install: () => detectInstall(env, input.pkgDir),
    // npm ci and rebuilds install nothing that package.json does not already list.
    direct: () =>
      detectDirect(
        siteHere(), name, detectInstall(env, input.pkgDir) === 'global', probes,
        input.trigger === 'postinstall' && !['ci', 'rebuild'].includes(env.npm_command ?? ''),
        // pnpm 11+ global installs run in <PNPM_HOME>/global/v11/<id> (see GLOBAL_RULES).
        input.trigger === 'postinstall' && /[\\/]pnpm[\\/]global[\\/]/.test(env.INIT_CWD ?? '') ? env.INIT_CWD : undefined,
      ),
    libc: () => detectLibcFamily(input.platform, input.execPath, probes, loaderOf()),
    libc_version: () => detectLibcVersion(input.platform, input.execPath, probes, loaderOf()),
    trigger: () => input.trigger,
    event_id: () => input.newId(),
    beacon_version: () => input.beaconVersion,
  };
  const values: Partial<Values> = {};
  for (const variable of variables) values[variable] = compute[variable]();
  return { values, container: containerOf };
}

/** Claim the install before sending (see marker.ts); 'unwritable' when no marker can be kept. */
export function claimInstall(decision: Decision, fs: MarkerFs, now: number): Claim {
  return claimMarker(decision.marker, fs, now, decision.pkgMtimeMs ?? 0);
}
