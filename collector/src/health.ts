// Whether writes work, from what the commits did (not from `SELECT 1`): a failed
// commit (disk full, PostgreSQL down, a deleted database file) or one that has not
// finished for `stallMs` (a frozen disk) starts a fault; a commit or probe write
// that succeeds ends it. Each fault logs one line when it starts and one when it
// ends, whatever the number of requests refused meanwhile. /healthz asks `check()`,
// which also writes a probe (Storage.ping), so a fault shows and clears with no traffic.

export interface Fault {
  reason: string;
  since: number;
  failures: number;
  /** A commit has not finished for stallMs (that commit's own end clears it), rather than a commit or probe that failed. */
  stalled?: boolean;
}

export interface HealthOptions {
  log(line: string): void;
  now(): number;
  /** A commit in flight longer than this is a fault (and a probe slower than this fails). */
  stallMs: number;
  /** When the oldest commit in flight started (Batcher.inFlightSince). */
  inFlightSince(): number | undefined;
  /** A durable write that throws when writes fail (Storage.ping). */
  probe(): Promise<void>;
}

export interface Health {
  /**
   * A commit's outcome. A success from a commit that started before a failure was seen does not end that
   * fault: with several commits in flight (PostgreSQL), one that got through just before the database
   * stopped can answer after one that did not, and says nothing of the database now.
   */
  observe(outcome: { ok: true; startedAt?: number } | { ok: false; error: unknown }): void;
  /** Looks for a stalled commit; the shell calls it every so often. */
  tick(): void;
  /** The current fault, after a probe write: undefined when writes work. */
  check(): Promise<Fault | undefined>;
  readonly fault: Fault | undefined;
}

const reasonOf = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0]!.slice(0, 300);
const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/** At most one probe write per this long. */
export const PROBE_EVERY_MS = 1000;

export function createHealth(o: HealthOptions): Health {
  let fault: Fault | undefined;
  let probing: Promise<void> | undefined;
  let probedAt = 0;
  const fail = (reason: string, stalled = false) => {
    if (fault) return void fault.failures++;
    fault = { reason, since: o.now(), failures: 1, stalled };
    o.log(`install-beacon-collector: writes are failing (${reason}); ingest answers 503 and /healthz 503 until they work again`);
  };
  const ok = () => {
    if (!fault) return;
    o.log(`install-beacon-collector: writes work again after ${seconds(o.now() - fault.since)} (${fault.failures} failed commits or probes; first: ${fault.reason})`);
    fault = undefined;
  };
  const tick = () => {
    const since = o.inFlightSince();
    if (since !== undefined && o.now() - since > o.stallMs) fail(`a commit has not finished for ${seconds(o.now() - since)}: is the disk frozen or the database stuck?`, true);
  };
  return {
    observe: (outcome) => {
      if (!outcome.ok) return fail(reasonOf(outcome.error));
      if (fault && !fault.stalled && outcome.startedAt !== undefined && outcome.startedAt <= fault.since) return;
      ok();
    },
    tick,
    async check() {
      tick();
      // A commit still stuck: a probe would only queue behind it.
      if (fault && o.inFlightSince() !== undefined) return fault;
      // /healthz is public: checks within PROBE_EVERY_MS share one probe write, so polling it costs no more writes than that.
      if (!probing || o.now() - probedAt >= PROBE_EVERY_MS) {
        probedAt = o.now();
        let timer: NodeJS.Timeout | undefined;
        probing = Promise.race([o.probe(), new Promise((_, no) => (timer = setTimeout(() => no(new Error(`a probe write did not finish in ${seconds(o.stallMs)}`)), o.stallMs)))])
          .then(ok, (e) => fail(reasonOf(e)))
          .finally(() => clearTimeout(timer));
      }
      await probing;
      return fault;
    },
    get fault() {
      return fault;
    },
  };
}
