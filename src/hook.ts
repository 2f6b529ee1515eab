import { parse as parsePath } from 'path';
import { claimInstall, contextFacts, decide, type Decision, type DecideInput, type Trigger } from './decide.js';
import type { DeliveryResult } from './deliver.js';
import { currentHost, type Host } from './env.js';
import { optOutFile } from './machine.js';
import { finish, pruneGone, retryLater, type MarkerLocation } from './marker.js';
import { isOn } from './optout.js';
import { realDir, realMarkerFs, realProbes } from './probes.js';
import { fillLate, type VarName } from './template.js';
import { BEACON_VERSION, USER_AGENT } from './version.js';

// The thin shell around decide(): it gathers the real inputs, prints what the
// end user should see, claims the marker and starts delivery. Inside an
// install it never throws and never changes the exit status.

/** Write to stderr, ignoring a closed or broken stream. */
export function say(line: string): void {
  try {
    process.stderr.write(`${line}\n`);
  } catch {
    // stderr is closed (EPIPE): there is nobody to tell.
  }
}

export function decideHere(host: Host, pkgDir: string, trigger: Trigger, extra: Partial<DecideInput> = {}): Decision {
  return decide({ ...decideInputOf(host, pkgDir, trigger), ...extra });
}

function decideInputOf(host: Host, pkgDir: string, trigger: Trigger): DecideInput {
  return {
    env: host.env,
    pkgDir,
    cwd: host.cwd,
    trigger,
    platform: host.platform,
    arch: host.arch,
    nodeVersion: host.nodeVersion,
    execPath: host.execPath,
    beaconVersion: BEACON_VERSION,
    machineOptOutFile: optOutFile(host.env, host.platform),
    probes: realProbes,
    marker: realMarkerFs,
    // crypto (35 Node modules) is loaded only when the template asks for {event_id}.
    newId: () => (require('crypto') as typeof import('crypto')).randomUUID(),
    now: Date.now(),
  };
}

/**
 * A package's name or version as it may be printed: the author's package.json
 * is not trusted, so control characters (a newline, a terminal escape) and
 * bidirectional overrides become U+FFFD, and the text is capped at 100 characters.
 */
export function printable(text: string | undefined, max = 100): string {
  const chars = Array.from((text ?? '').replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '\ufffd'));
  return chars.length > max ? `${chars.slice(0, max).join('')}…` : chars.join('');
}

/**
 * The decision in words. `trigger`: reportInstall always hands the request to a
 * detached sender (see runtime.ts), whatever delivery the config would pick for
 * the hook, so its line says so.
 */
export function describe(d: Decision, trigger: Trigger = 'postinstall'): string {
  const what = d.name ? `${printable(d.name)}@${printable(d.version)}` : 'this package';
  const how = trigger === 'runtime' ? 'reportInstall: would send (a detached background sender)' : `would send (${d.delivery} delivery)`;
  const lines = [`install-beacon: ${what}: ${d.send ? how : trigger === 'runtime' ? 'reportInstall: skip' : 'skip'} [rule: ${d.rule}] ${d.reason}`];
  if (d.url) lines.push(`install-beacon: URL: ${d.url}${d.send ? '' : d.rule === 'already-reported' ? ' (what an install here reports; already sent)' : ' (not sent: the rule above applies)'}`);
  for (const problem of d.problems ?? []) lines.push(`install-beacon: note: ${problem}`);
  return lines.join('\n');
}

/** INSTALL_BEACON_DEBUG: print the decision and URL; the caller then sends nothing. */
export function printDebug(d: Decision, trigger: Trigger = 'postinstall'): void {
  say(describe(d, trigger));
  say('install-beacon: INSTALL_BEACON_DEBUG is set: nothing is sent');
}

export function notice(d: Decision): string {
  return `install-beacon: ${printable(d.name)}@${printable(d.version)} sends one anonymous install event to ${d.config!.template.host} (opt out: DO_NOT_TRACK=1; what and why: npx install-beacon explain)`;
}

/** What the detached sender gets on its command line. */
export interface SendJob {
  url: string;
  trigger: Trigger;
  /** The claimed marker, completed or re-armed by the sender. */
  marker?: MarkerLocation;
  /** Variables left for the sender to compute and fill into `url` (Decision.late), and for which package. */
  late?: { vars: VarName[]; pkgDir: string; name: string; version: string };
}

/**
 * Hand the request to a detached process that outlives this one (stdio ignored,
 * not waited for). If it cannot even start, the claim is re-armed for a later try.
 */
export function startSender(execPath: string, binFile: string, job: SendJob, cwd: string, nodeArgs: string[] = []): void {
  // Loaded here, not at the top: require('install-beacon') (reportInstall) and
  // inline delivery would otherwise load child_process and its 29 Node modules
  // on every program start, whether or not anything is sent.
  const { spawn } = require('child_process') as typeof import('child_process');
  const child = spawn(execPath, [...nodeArgs, binFile, '__send', JSON.stringify(job)], {
    detached: true,
    stdio: 'ignore',
    windowsHide: true,
    cwd: parsePath(cwd).root || undefined, // not the package folder, which the sender must not keep busy
  });
  child.on('error', () => {
    if (job.marker) retryLater(job.marker, realMarkerFs);
  });
  child.unref();
}

/** Send, then record the outcome in the claimed marker. */
export async function sendAndRecord(job: SendJob, deadlineMs: number, retries: number): Promise<DeliveryResult> {
  let result: DeliveryResult;
  try {
    const { deliver } = await import('./deliver.js');
    result = await deliver(job.url, { deadlineMs, retries, userAgent: USER_AGENT, env: currentHost().env });
  } catch (error) {
    result = { ok: false, attempts: 0, error: String(error), retryable: true };
  }
  if (job.marker) {
    // Delivered, or refused for good (a 4xx): done. A network fault or 5xx: try again later.
    if (result.ok || !result.retryable) {
      finish(job.marker, realMarkerFs, { trigger: job.trigger, status: result.status, at: Date.now() });
      // Markers of packages since removed from this tree (npm uninstall -g): cheap here, never on the skip path.
      pruneGone(job.marker, realMarkerFs, realProbes.exists);
    } else retryLater(job.marker, realMarkerFs);
  }
  return result;
}

/** Postinstall mode. Resolves when the hook may exit (inline delivery done, or the sender started). */
export async function postinstall(positional: string | undefined, binFile: string): Promise<void> {
  const host = currentHost();
  const debug = isOn(host.env.INSTALL_BEACON_DEBUG);
  // With debug on, a skip after the config was read (already reported, CI, an opt-out file) still shows its URL.
  const pkgDir = realDir(host.cwd);
  const decision = decideHere(host, pkgDir, 'postinstall', { positional, describeSkips: debug, deferLate: !debug });
  if (debug) return printDebug(decision);
  if (!decision.send || !decision.url) return;

  const claim = claimInstall(decision, realMarkerFs, Date.now());
  // 'taken': another run of this very install got there first. 'unwritable':
  // a postinstall runs once per install, so send without a marker.
  if (claim.result === 'taken') return;
  const job: SendJob = { url: decision.url, trigger: 'postinstall', marker: claim.result === 'claimed' ? claim.location : undefined };
  // The sender computes them for the very folder the decision was made for.
  if (decision.late) job.late = { vars: decision.late, pkgDir, name: decision.name!, version: decision.version! };
  say(notice(decision));
  // timeoutMs is counted from the process start: Node's start-up and the decision
  // (an inline {direct} in a large tree) come off it. When less than 100 ms is left,
  // too little for a request on a loaded machine, the detached sender takes the
  // request (10 s, one retry) and the hook exits now: neither a wait past the
  // bound nor a lost event.
  const left = decision.config!.timeoutMs - process.uptime() * 1000;
  if (decision.delivery === 'background' || left < 100) return startSender(host.execPath, binFile, job, host.cwd);
  // Killed mid-send (npm passes SIGINT and SIGTERM on to its scripts, and job
  // runners send SIGTERM on a timeout): drop the claim, so a later run of this
  // install can report, and exit 0 at once, as on every other path.
  const onSignal = () => {
    if (job.marker) realMarkerFs.remove(job.marker.file);
    process.exit(0);
  };
  for (const signal of STOP_SIGNALS) process.once(signal, onSignal);
  await sendAndRecord(job, left, 0);
  for (const signal of STOP_SIGNALS) process.removeListener(signal, onSignal);
}

const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** The detached sender (`install-beacon __send <job>`): 10 s in all, one retry. */
export async function backgroundSend(json: string | undefined): Promise<void> {
  const job = JSON.parse(json ?? '') as SendJob;
  if (job.late) {
    // The install has moved on: what the hook left for later is computed here, as the hook would have.
    const { late } = job;
    let values = {};
    try {
      values = contextFacts(decideInputOf(currentHost(), late.pkgDir, job.trigger), late.name, late.version, late.vars).values;
    } catch {
      // The probes never throw; should anything else, the event still goes, with these fields "unknown".
    }
    job.url = fillLate(job.url, values);
  }
  await sendAndRecord(job, 10_000, 1);
}
