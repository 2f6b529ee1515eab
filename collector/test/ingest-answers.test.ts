import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseEnv, TempDirs } from '../../test/support/process.js';
import { killAll, startBin, type Proc } from './support/bin.js';

// Issue 22: ingest writes its answers' headers as one flat list (no setHeader before writeHead). Every
// kind of ingest answer, header for header, as the built collector sends it.
const temps = new TempDirs();
let c: Proc;
beforeAll(async () => {
  c = await startBin(['--port', '0', '--rate-limit', '3', '--db', join(temps.make('ibc-answers-'), 'events.db')], baseEnv(temps.make('ibc-home-'), { INSTALL_BEACON_TOKEN: 'answers-token-0123456789abcdef', DATABASE_URL: undefined }));
}, 60_000);
afterAll(async () => {
  await c?.stop();
  killAll();
  temps.cleanup();
});

function send(path: string, method = 'GET', body?: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const u = new URL(c.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: u.hostname, port: u.port, path, method, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => {
        const h = { ...res.headers };
        delete h.date;
        delete h['keep-alive'];
        resolve({ status: res.statusCode!, headers: h, body: text });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const text = (body: string) => ({ 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'content-length': String(Buffer.byteLength(body)) });

describe('every kind of ingest answer, header for header', () => {
  it.each([
    ['a GET stored', () => send('/acme-lib/1.0.0/linux/x64?event_id=a1'), 200, { 'content-length': '0', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', connection: 'close' }, ''],
    ['a HEAD stored', () => send('/acme-lib/1.0.0/linux/x64?event_id=a2', 'HEAD'), 200, { 'content-length': '0', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', connection: 'close' }, ''],
    ['no route (404)', () => send('/nothing'), 404, { ...text('no route matches this URL\n'), connection: 'close' }, 'no route matches this URL\n'],
    ['a bad value (400)', () => send('/acme-lib/%00/linux/x64'), 400, { ...text('a value holds control characters\n'), connection: 'close' }, 'a value holds control characters\n'],
    ['a method (405, Allow)', () => send('/acme-lib/1.0.0/linux/x64', 'PUT'), 405, { ...text('only GET, HEAD and POST are accepted\n'), allow: 'GET, HEAD, POST', connection: 'close' }, 'only GET, HEAD and POST are accepted\n'],
    ['a bad body, read (400)', () => send('/acme-lib/1.0.0/linux/x64', 'POST', '{', { 'content-type': 'application/json' }), 400, { ...text('the body is malformed: the body is not valid JSON\n'), connection: 'close' }, 'the body is malformed: the body is not valid JSON\n'],
    ['a body too large, unread (413, Connection: close)', () => send('/acme-lib/1.0.0/linux/x64', 'POST', 'x'.repeat(70_000), { 'content-type': 'application/json' }), 413, { ...text('the body is longer than 65536 bytes\n'), connection: 'close' }, 'the body is longer than 65536 bytes\n'],
    [
      'rate limited (429, Retry-After)',
      async () => {
        for (let i = 0; i < 5; i++) await send(`/acme-lib/1.0.0/linux/x64?event_id=r${i}`);
        return send('/acme-lib/1.0.0/linux/x64?event_id=r9');
      },
      429,
      { ...text('too many requests from this address; retry later\n'), 'retry-after': '60', connection: 'close' },
      'too many requests from this address; retry later\n',
    ],
  ] as const)('%s', async (_, go, status, headers, body) => {
    const r = await go();
    expect(r).toEqual({ status, headers, body: r.status === 200 || _.startsWith('a HEAD') ? '' : body });
  });
});
