import { spawn } from 'child_process';
import { randomUUID } from 'crypto';
import { parse as parsePath } from 'path';
import { claimInstall, decide, type Decision, type DecideInput, type Trigger } from './decide.js';
import type { DeliveryResult } from './deliver.js';
import { currentHost, type Host } from './env.js';
import { optOutFile } from './machine.js';
import { realDir, realMarkerFs, realProbes } from './probes.js';
import { BEACON_VERSION, USER_AGENT } from './version.js';

// The thin shell around decide(): it gathers the real inputs, prints what the
// end user should see, claims the marker and starts delivery. Inside an
// install it never throws and never changes the exit status.

export const isOn = (v: string | undefined): boolean => /^(1|true|yes)$/i.test((v ?? '').trim());

/** Write to stderr, ignoring a closed or broken stream. */
export function say(line: string): void {
  try {
    process.stderr.write(`${line}\n`);
  } catch {
    // stderr is closed (EPIPE): there is nobody to tell.
  }
}

export function decideHere(host: Host, pkgDir: string, trigger: Trigger, extra: Partial<DecideInput> = {}): Decision {
  return decide({
    env: host.env,
    pkgDir,
    trigger,
    platform: host.platform,
    arch: host.arch,
    nodeVersion: host.nodeVersion,
    beaconVersion: BEACON_VERSION,
    machineOptOutFile: optOutFile(host.env, host.platform),
    probes: realProbes,
    marker: realMarkerFs,
    newId: randomUUID,
    ...extra,
  });
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

export function describe(d: Decision): string {
  const what = d.name ? `${printable(d.name)}@${printable(d.version)}` : 'this package';
  const lines = [`install-beacon: ${what}: ${d.send ? `would send (${d.delivery} delivery)` : 'skip'} [rule: ${d.rule}] ${d.reason}`];
  if (d.url) lines.push(`install-beacon: URL: ${d.url}`);
  for (const problem of d.problems ?? []) lines.push(`install-beacon: note: ${problem}`);
  return lines.join('\n');
}

export function notice(d: Decision): string {
  return `install-beacon: ${printable(d.name)}@${printable(d.version)} sends one anonymous install event to ${d.config!.template.host} (opt out: DO_NOT_TRACK=1; what and why: npx install-beacon explain)`;
}

export interface BackgroundPayload {
  url: string;
  marker?: string;
}

/** Postinstall mode. Resolves when the hook may exit (inline delivery done, or the background child started). */
export async function postinstall(positional: string | undefined, binFile: string): Promise<void> {
  const host = currentHost();
  const debug = isOn(host.env.INSTALL_BEACON_DEBUG);
  const decision = decideHere(host, realDir(host.cwd), 'postinstall', { positional });
  if (debug) {
    say(describe(decision));
    say('install-beacon: INSTALL_BEACON_DEBUG is set: nothing is sent');
    return;
  }
  if (!decision.send || !decision.url) return;

  const claim = claimInstall(decision, realMarkerFs, 'postinstall', Date.now());
  // 'taken': another run of this very install got there first. 'unwritable':
  // a postinstall runs once per install, so send without a marker.
  if (claim === 'taken') return;
  const marker = claim === 'claimed' ? decision.marker!.file : undefined;
  say(notice(decision));

  if (decision.delivery === 'background') {
    const payload: BackgroundPayload = { url: decision.url, marker };
    const child = spawn(host.execPath, [binFile, '__send', JSON.stringify(payload)], {
      detached: true,
      stdio: 'ignore',
      windowsHide: true,
      cwd: parsePath(host.cwd).root || undefined, // not the package folder, which the child must not keep busy
    });
    child.on('error', () => {
      // Could not start the sender: release the claim so a later trigger can report.
      if (marker) realMarkerFs.remove(marker);
    });
    child.unref();
    return;
  }
  // Killed mid-send (npm passes SIGINT and SIGTERM on to its scripts, and job
  // runners send SIGTERM on a timeout): release the claim, so a later run of
  // this install can report, and exit 0 at once, as on every other path.
  const onSignal = () => {
    if (marker) realMarkerFs.remove(marker);
    process.exit(0);
  };
  for (const signal of STOP_SIGNALS) process.once(signal, onSignal);
  const result = await send(decision.url, decision.config!.timeoutMs, 0);
  for (const signal of STOP_SIGNALS) process.removeListener(signal, onSignal);
  if (!result.ok && marker) realMarkerFs.remove(marker);
}

const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export async function send(url: string, deadlineMs: number, retries: number): Promise<DeliveryResult> {
  const { deliver } = await import('./deliver.js');
  return deliver(url, { deadlineMs, retries, userAgent: USER_AGENT, env: currentHost().env });
}

/** The detached background sender: 10 s in all, one retry; releases the claim if the event could not be delivered. */
export async function backgroundSend(json: string | undefined): Promise<void> {
  const payload = JSON.parse(json ?? '') as BackgroundPayload;
  const result = await send(payload.url, 10_000, 1);
  if (!result.ok && payload.marker) realMarkerFs.remove(payload.marker);
}
