import * as http from 'node:http';

export interface LoadResult {
  /** event_ids that got a 2xx. */
  acked: string[];
  /** event_ids answered with anything but a 2xx (none of them may be stored). */
  refused: string[];
  /** event_ids that got no answer at all (stored or not). */
  unanswered: string[];
  statuses: Record<string, number>;
  /** Requests that got no answer (connection reset, refused). */
  errors: number;
}

/**
 * `workers` keep-alive clients, each sending one request at a time, every
 * request with a fresh event_id, until `stop()` returns true. The caller's
 * `onAck` sees the number of 2xx so far (to trigger a fault at a count, not a time).
 */
export function load(base: string, options: { workers: number; prefix: string; stop: () => boolean; onAck?: (n: number) => void; onStatus?: (status: number) => void }): Promise<LoadResult> {
  const u = new URL(base);
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.workers });
  const result: LoadResult = { acked: [], refused: [], unanswered: [], statuses: {}, errors: 0 };
  let next = 0;
  const send = (id: string) =>
    new Promise<number>((resolve) => {
      const req = http.request({ host: u.hostname, port: u.port, path: `/load-lib/1.0.0/linux/x64?ci=false&event_id=${id}`, agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', () => resolve(0));
      });
      req.setTimeout(10_000, () => req.destroy());
      req.on('error', () => resolve(0));
      req.end();
    });
  const worker = async () => {
    while (!options.stop()) {
      const id = `${options.prefix}-${String(next++).padStart(8, '0')}`;
      const status = await send(id);
      if (status === 0) {
        result.errors++;
        result.unanswered.push(id);
        // The server is gone: do not spin.
        await new Promise((r) => setTimeout(r, 20));
        continue;
      }
      result.statuses[status] = (result.statuses[status] ?? 0) + 1;
      options.onStatus?.(status);
      if (status >= 200 && status < 300) {
        result.acked.push(id);
        options.onAck?.(result.acked.length);
      } else result.refused.push(id);
    }
  };
  return Promise.all(Array.from({ length: options.workers }, worker)).then(() => {
    agent.destroy();
    return result;
  });
}
