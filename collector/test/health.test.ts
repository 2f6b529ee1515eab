import { describe, expect, it } from 'vitest';
import { createHealth } from '../src/health.js';

// Issue 20 item 4: health follows the commits (not a read), and each fault logs one line when it
// starts and one when it ends, whatever the number of requests refused meanwhile.

type Step = { ok: true } | { okStartedAgo: number } | { fail: string } | { stall: number } | { unstall: true } | { tick: true } | { check: 'ok' | string };

function run(steps: Step[]) {
  let t = 1_000_000;
  let inFlight: number | undefined;
  let probe: () => Promise<void> = async () => {};
  const lines: string[] = [];
  const h = createHealth({ log: (l) => lines.push(l), now: () => t, stallMs: 1000, inFlightSince: () => inFlight, probe: () => probe() });
  const faults: Array<string | undefined> = [];
  return (async () => {
    for (const s of steps) {
      t += 100;
      if ('ok' in s) h.observe({ ok: true });
      else if ('okStartedAgo' in s) h.observe({ ok: true, startedAt: t - s.okStartedAgo });
      else if ('fail' in s) h.observe({ ok: false, error: new Error(s.fail) });
      else if ('stall' in s) (inFlight = t), (t += s.stall);
      else if ('unstall' in s) inFlight = undefined;
      else if ('tick' in s) h.tick();
      else {
        const want = s.check;
        t += 1000; // past the probe's cache
        probe = want === 'ok' ? async () => {} : async () => Promise.reject(new Error(want));
        await h.check();
      }
      faults.push(h.fault?.reason);
    }
    return { lines, faults, fault: h.fault };
  })();
}

const FAIL = /^install-beacon-collector: writes are failing \((.*)\); ingest answers 503/;
const OK = /^install-beacon-collector: writes work again after [\d.]+ s \((\d+) failed commits or probes; first: (.*)\)$/;

describe('health from the commits', () => {
  const cases: Array<[string, Step[], Array<RegExp>, boolean]> = [
    ['every commit ok: silent, healthy', [{ ok: true }, { ok: true }, { check: 'ok' }], [], false],
    ['1000 failed commits then one ok: one line each way', [...Array.from({ length: 1000 }, () => ({ fail: 'database or disk is full' })), { ok: true }], [FAIL, OK], false],
    ['failing without an end: one line, unhealthy', [{ fail: 'connect ECONNREFUSED 127.0.0.1:5432' }, { fail: 'Connection terminated' }], [FAIL], true],
    ['two faults apart: two lines each', [{ fail: 'a' }, { ok: true }, { fail: 'b' }, { ok: true }], [FAIL, OK, FAIL, OK], false],
    ['a commit stuck past stallMs (a frozen disk) is a fault, ticks add no lines; its end clears it', [{ stall: 1500 }, { tick: true }, { tick: true }, { unstall: true }, { ok: true }], [FAIL, OK], false],
    ['a commit in flight under stallMs is no fault', [{ stall: 500 }, { tick: true }], [], false],
    // Issue 22 (seen when PostgreSQL stops with 3 commits in flight): one got through just before, and answers after one that did not.
    ['a commit that started before the failure succeeds: the fault goes on; one started after ends it', [{ fail: 'terminating connection due to administrator command' }, { okStartedAgo: 150 }, { okStartedAgo: 50 }], [FAIL, OK], false],
    ['only commits that started before the failure succeed: still failing', [{ fail: 'the database system is shutting down' }, { okStartedAgo: 150 }, { okStartedAgo: 300 }], [FAIL], true],
    ['a stalled commit ends its own stall fault, however long ago it started', [{ stall: 1500 }, { tick: true }, { unstall: true }, { okStartedAgo: 2000 }], [FAIL, OK], false],
    ['no traffic: a failing probe write is a fault, a later good probe ends it', [{ check: 'the database file is no longer the one opened (deleted)' }, { check: 'ok' }], [FAIL, OK], false],
  ];
  it.each(cases)('%s', async (_name, steps, want, unhealthy) => {
    const r = await run(steps);
    expect(r.lines).toHaveLength(want.length);
    r.lines.forEach((l, i) => expect(l).toMatch(want[i]!));
    expect(r.fault !== undefined).toBe(unhealthy);
  });

  it('a commit in flight exactly stallMs is not yet a fault; the duration and a long reason are logged as they are', async () => {
    let t = 5000;
    const lines: string[] = [];
    const h = createHealth({ log: (l) => lines.push(l), now: () => t, stallMs: 1000, inFlightSince: () => 4000, probe: async () => {} });
    h.tick();
    expect(h.fault).toBeUndefined();
    h.observe({ ok: false, error: new Error('x'.repeat(400) + '\nsecond line') });
    t = 8500;
    h.observe({ ok: true });
    expect(lines[0]).toContain(`(${'x'.repeat(300)})`);
    expect(lines[1]).toMatch(/after 3\.5 s \(1 failed/);
  });

  it('the lines name the first reason, and the end counts the failures', async () => {
    const r = await run([{ fail: 'database or disk is full' }, { fail: 'database or disk is full' }, { fail: 'other' }, { ok: true }]);
    expect(FAIL.exec(r.lines[0]!)![1]).toBe('database or disk is full');
    expect(OK.exec(r.lines[1]!)!.slice(1)).toEqual(['3', 'database or disk is full']);
  });

  it('check() does not probe behind a stuck commit while a fault is on (the probe would queue behind it)', async () => {
    let probes = 0;
    const h = createHealth({ log: () => {}, now: () => 5000, stallMs: 1000, inFlightSince: () => 1000, probe: async () => void probes++ });
    expect((await h.check())?.reason).toMatch(/has not finished for 4\.0 s/);
    expect(probes).toBe(0);
  });

  it('checks within a second share one probe write (/healthz is public: polling it must not cost a write each)', async () => {
    let t = 10_000;
    let probes = 0;
    const h = createHealth({ log: () => {}, now: () => t, stallMs: 1000, inFlightSince: () => undefined, probe: async () => void probes++ });
    await Promise.all([h.check(), h.check(), h.check()]);
    t += 999;
    await h.check();
    expect(probes).toBe(1);
    t += 1;
    await h.check();
    expect(probes).toBe(2);
  });

  it('a probe slower than stallMs fails', async () => {
    const h = createHealth({ log: () => {}, now: Date.now, stallMs: 20, inFlightSince: () => undefined, probe: () => new Promise(() => {}) });
    expect((await h.check())?.reason).toMatch(/did not finish in 0\.0 s/);
  });
});
