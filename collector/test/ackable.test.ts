import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endsWithHead } from '../src/ackable.js';

// Issue 22: ingest enqueues a request that ends with its head at once, without waiting for 'end'
// (a promise and three listeners per request). That is safe only if Node's parser completes such a
// message with no byte more: `req.complete` must be true by the time any callback runs after the handler.
let server: Server;
let port: number;
const seen: Array<{ url: string; endsWithHead: boolean; completeAfter: boolean }> = [];

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res) => {
    const entry = { url: req.url ?? '', endsWithHead: endsWithHead(req), completeAfter: false };
    seen.push(entry);
    queueMicrotask(() => {
      entry.completeAfter = req.complete;
      req.resume();
      req.on('end', () => res.end());
      if (req.complete) res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

/** Send raw bytes, wait until the server's handler saw the request (or the connection closed). */
function send(bytes: string, url: string): Promise<void> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.on('data', () => {});
    s.on('error', () => resolve());
    s.on('close', () => resolve());
    s.write(bytes);
    const poll = setInterval(() => {
      const e = seen.find((x) => x.url === url);
      if (e && (e.completeAfter || !e.endsWithHead)) {
        clearInterval(poll);
        setTimeout(() => (s.destroy(), resolve()), 20);
      }
    }, 5);
    s.once('close', () => clearInterval(poll));
  });
}

const CASES: Array<[name: string, head: string, body: string, endsWithHead: boolean]> = [
  ['GET without a body', 'GET /a HTTP/1.1\r\nHost: x\r\n', '', true],
  ['HEAD', 'HEAD /b HTTP/1.1\r\nHost: x\r\n', '', true],
  ['GET with Content-Length: 0', 'GET /c HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n', '', true],
  ['GET with Content-Length: 0 and trailing garbage', 'GET /d HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n', '\x01garbage\r\n\r\n', true],
  ['GET with a body', 'GET /e HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n', 'abc', false],
  ['GET chunked', 'GET /f HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n', '3\r\nabc\r\n0\r\n\r\n', false],
  ['GET with Content-Length: 00', 'GET /g HTTP/1.1\r\nHost: x\r\nContent-Length: 00\r\n', '', false],
  ['POST without a body', 'POST /h HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n', '', false],
];

describe('endsWithHead: a request Node has read whole once its handler returns', () => {
  it.each(CASES)('%s', async (_, head, body, expected) => {
    const url = /^\w+ (\S+)/.exec(head)![1]!;
    await send(`${head}\r\n${body}`, url);
    const e = seen.find((x) => x.url === url)!;
    expect(e.endsWithHead).toBe(expected);
    // What ingest relies on: every request it does not wait for is complete one microtask later.
    if (expected) expect(e.completeAfter).toBe(true);
  });
});
