import { readdirSync, readFileSync } from 'node:fs';

// Detached senders (`bin.cjs __send <job>`) started by reportInstall or a
// background hook. A host program that has exited has already started any
// sender it was going to start (the spawn happens before its event loop
// drains), so "no sender left" plus the collector's count is an exact answer
// to "how many events did these runs send", without a fixed sleep.

/** PIDs of live sender processes whose command line contains `needle` (e.g. the collector's port). */
export function senderPids(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmd.includes('__send') && cmd.includes(needle)) pids.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return pids;
}

/** Wait (bounded) until no sender for `needle` is left; throws if one outlives `ms`. */
export async function sendersDone(needle: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (senderPids(needle).length > 0) {
    if (Date.now() > end) throw new Error(`a sender for ${needle} is still running after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
