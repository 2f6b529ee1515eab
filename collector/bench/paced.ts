// An open-loop load at a fixed rate, for the p99 "at half the peak rate" (issue 22 item 4).
//
// autocannon's overallRate is no steady rate: each connection sends back to back (closed loop) until it
// has made its share of the second's requests, then pauses until its one-second interval fires (httpClient.js
// reqsMadeThisSecond; every connection's interval starts together). At half the peak rate the server sees the
// full 32-connection peak for about half of every second, then nothing. And with a rate set, autocannon
// records each latency with HdrHistogram's recordValueWithExpectedInterval(latency, ceil(1 / rate)): 1 / rate
// is in seconds (1/54 s a connection), so the "expected interval" is 1 ms, and every response of L ms is
// recorded L times (L, L-1, ..., 1): its p99 is a p99 weighted by latency, not the p99 of the requests.
//
// Here request i is due at start + i / rate (evenly spaced, whatever the answers), sent on one of
// `connections` keep-alive connections (node:http's Agent queues it when all are busy), and its latency runs
// from when it was due (so a request that waited for a connection counts its wait: no coordinated omission)
// to the end of its answer. The bare server under the same pacing gives the load tool's own floor.
import * as http from 'node:http';

export interface PacedRun {
  rate: number;
  seconds: number;
  connections: number;
  sent: number;
  rps: number;
  non2xx: number;
  errors: number;
  /** ms from when each request was due to the end of its answer */
  p50: number;
  p99: number;
  p999: number;
  max: number;
  /** ms from the request's write to the end of its answer (without the wait for a free connection) */
  p99FromSend: number;
  maxFromSend: number;
  /**
   * ms: the longest time the load tool's own pacing timer (due every 1 ms) went without running. A stall of the
   * server shows in maxFromSend (the requests it held); a stall of the load tool (its GC, the machine) shows here.
   */
  longestTickGap: number;
}

export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** Of several runs, the one whose ratio is the median (the lower middle one of an even count). */
export function medianPair<T extends { ratio: number }>(pairs: readonly T[]): T {
  if (pairs.length === 0) throw new Error('no runs');
  return [...pairs].sort((a, b) => a.ratio - b.ratio)[Math.floor((pairs.length - 1) / 2)]!;
}

export async function paced(url: string, o: { rate: number; seconds: number; connections: number; path(i: number): string }): Promise<PacedRun> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.connections });
  const target = new URL(url);
  const total = Math.floor(o.rate * o.seconds);
  const fromDue: number[] = [];
  const fromSend: number[] = [];
  let non2xx = 0;
  let errors = 0;
  let sent = 0;
  let open = 0;
  let last: number | undefined;
  let longestTickGap = 0;
  const start = performance.now();
  await new Promise<void>((resolve) => {
    const finish = () => {
      if (sent === total && open === 0) resolve();
    };
    const send = (i: number, due: number) => {
      open++;
      let wrote = 0;
      const req = http.request({ host: target.hostname, port: target.port, path: o.path(i), agent, method: 'GET' }, (res) => {
        if (res.statusCode === undefined || res.statusCode < 200 || res.statusCode >= 300) non2xx++;
        res.resume();
        res.once('end', () => {
          const t = performance.now();
          fromDue.push(t - due);
          fromSend.push(t - wrote);
          open--;
          finish();
        });
      });
      req.once('socket', () => (wrote = performance.now()));
      req.once('error', () => {
        errors++;
        open--;
        finish();
      });
      req.end();
    };
    const tick = () => {
      const now = performance.now();
      if (last !== undefined) longestTickGap = Math.max(longestTickGap, now - last);
      last = now;
      while (sent < total && start + (sent * 1000) / o.rate <= now) {
        send(sent, start + (sent * 1000) / o.rate);
        sent++;
      }
      if (sent < total) setTimeout(tick, 1);
      else finish();
    };
    tick();
  });
  const elapsed = (performance.now() - start) / 1000;
  agent.destroy();
  fromDue.sort((a, b) => a - b);
  fromSend.sort((a, b) => a - b);
  return {
    rate: o.rate,
    seconds: o.seconds,
    connections: o.connections,
    sent,
    rps: fromDue.length / elapsed,
    non2xx,
    errors,
    p50: quantile(fromDue, 0.5),
    p99: quantile(fromDue, 0.99),
    p999: quantile(fromDue, 0.999),
    max: fromDue[fromDue.length - 1] ?? 0,
    p99FromSend: quantile(fromSend, 0.99),
    maxFromSend: fromSend[fromSend.length - 1] ?? 0,
    longestTickGap,
  };
}
