import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { sendersDone } from './process.js';

// A real HTTP collector on 127.0.0.1, port 0. Records every request with its
// raw head bytes, so tests can assert on exactly what was sent.

export interface Received {
  method: string;
  path: string;
  segments: string[];
  query: Record<string, string>;
  headers: http.IncomingHttpHeaders;
  /** The raw request head as received (request line and headers). */
  raw: string;
}

export interface Collector {
  port: number;
  base: string;
  requests: Received[];
  /** Number of TCP connections accepted (0 proves nothing even connected). */
  connections: number;
  /** Wait until `n` requests have arrived; throws after `ms`. */
  waitFor(n: number, ms?: number): Promise<Received[]>;
  /**
   * Wait until nothing more can arrive: every background sender that names
   * this collector has exited (by PID; a sender exits once answered or past
   * its deadline, so whatever it sent is counted). Inline hooks and the
   * programs under test have exited before this is called. Throws after `ms`.
   */
  settled(ms?: number): Promise<Received[]>;
  close(): Promise<void>;
}

export type Responder = (req: http.IncomingMessage, res: http.ServerResponse) => void;

export async function startCollector(respond?: Responder): Promise<Collector> {
  const requests: Received[] = [];
  const state = { connections: 0 };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const query: Record<string, string> = {};
    url.searchParams.forEach((v, k) => {
      query[k] = v;
    });
    const raw = [`${req.method} ${req.url} HTTP/${req.httpVersion}`, ...pairs(req.rawHeaders)].join('\r\n');
    requests.push({
      method: req.method ?? '',
      path: url.pathname,
      segments: url.pathname.split('/').filter(Boolean).map((s) => decodeURIComponent(s)),
      query,
      headers: req.headers,
      raw,
    });
    if (respond) respond(req, res);
    else {
      res.writeHead(204);
      res.end();
    }
  });
  server.on('connection', () => {
    state.connections++;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    base: `http://127.0.0.1:${port}`,
    requests,
    get connections() {
      return state.connections;
    },
    async waitFor(n, ms = 15_000) {
      const end = Date.now() + ms;
      while (requests.length < n) {
        if (Date.now() > end) throw new Error(`collector: ${requests.length} of ${n} requests after ${ms} ms`);
        await new Promise((r) => setTimeout(r, 25));
      }
      return requests;
    },
    async settled(ms = 15_000) {
      await sendersDone(`127.0.0.1:${port}`, ms);
      return requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

function pairs(raw: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push(`${raw[i]}: ${raw[i + 1]}`);
  return out;
}
