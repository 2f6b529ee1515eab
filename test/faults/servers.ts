import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Local servers for the fault suite, all on 127.0.0.1 port 0. Every one of
// them records every byte it receives (plain TCP bytes, or the decrypted bytes
// of a TLS connection) into WIRE, so the privacy check can read the suite's
// whole traffic.

/** Every byte any fault server received in this worker, per server. */
export const WIRE: Array<{ server: string; bytes: Buffer[] }> = [];

export interface Request {
  method: string;
  url: string;
  /** The raw request head: request line and header lines as received. */
  head: string;
  headers: http.IncomingHttpHeaders;
}

export interface FaultServer {
  port: number;
  /** http://127.0.0.1:PORT or https://localhost:PORT */
  base: string;
  requests: Request[];
  connections: number;
  /** Everything received, as one string (latin1, so every byte maps to one char). */
  received(): string;
  /** Wait until `n` requests arrived, or `ms` passed. */
  waitFor(n: number, ms: number): Promise<number>;
  close(): Promise<void>;
}

export type Respond = (req: http.IncomingMessage, res: http.ServerResponse, index: number) => void;

const open = new Set<{ close(): Promise<void> }>();

/** Close every server still open (afterEach/afterAll). */
export async function closeAll(): Promise<void> {
  await Promise.all([...open].map((s) => s.close()));
}

function record(name: string, socket: net.Socket, state: { connections: number; sockets: Set<net.Socket> }, bytes: Buffer[]): void {
  state.connections++;
  state.sockets.add(socket);
  socket.on('data', (d: Buffer) => bytes.push(Buffer.from(d)));
  socket.on('close', () => state.sockets.delete(socket));
  socket.on('error', () => undefined); // a client that resets is one of the faults under test
}

function wrap(name: string, server: net.Server, port: number, base: string, requests: Request[], state: { connections: number; sockets: Set<net.Socket> }, bytes: Buffer[]): FaultServer {
  const self: FaultServer = {
    port,
    base,
    requests,
    get connections() {
      return state.connections;
    },
    received: () => Buffer.concat(bytes).toString('latin1'),
    async waitFor(n, ms) {
      const end = Date.now() + ms;
      while (requests.length < n && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      return requests.length;
    },
    close: () =>
      new Promise<void>((resolve) => {
        open.delete(self);
        for (const s of state.sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  open.add(self);
  WIRE.push({ server: name, bytes });
  return self;
}

const listen = (server: net.Server): Promise<number> =>
  new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)));

function headOf(req: http.IncomingMessage): string {
  const lines = [`${req.method} ${req.url} HTTP/${req.httpVersion}`];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
  return lines.join('\r\n');
}

/** An HTTP (or, with `tls`, HTTPS on "localhost") server; by default answers 204. */
export async function httpServer(respond?: Respond, tls?: Tls): Promise<FaultServer> {
  const requests: Request[] = [];
  const bytes: Buffer[] = [];
  const state = { connections: 0, sockets: new Set<net.Socket>() };
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const index = requests.length;
    requests.push({ method: req.method ?? '', url: req.url ?? '', head: headOf(req), headers: req.headers });
    res.on('error', () => undefined);
    if (respond) respond(req, res, index);
    else {
      res.writeHead(204);
      res.end();
    }
  };
  const server = tls ? https.createServer({ key: tls.key, cert: tls.cert }, handler) : http.createServer(handler);
  server.on(tls ? 'secureConnection' : 'connection', (socket: net.Socket) => record('http', socket, state, bytes));
  server.on('clientError', (_e, socket) => socket.destroy());
  const port = await listen(server);
  return wrap(tls ? 'https' : 'http', server, port, tls ? `https://localhost:${port}` : `http://127.0.0.1:${port}`, requests, state, bytes);
}

/** A raw TCP server: `onConnection` decides what (if anything) to answer. */
export async function tcpServer(onConnection: (socket: net.Socket) => void): Promise<FaultServer> {
  const requests: Request[] = [];
  const bytes: Buffer[] = [];
  const state = { connections: 0, sockets: new Set<net.Socket>() };
  const server = net.createServer((socket) => {
    record('tcp', socket, state, bytes);
    let seen = '';
    socket.on('data', (d: Buffer) => {
      // Count one request per complete head, so "events" mean the same as for httpServer.
      seen += d.toString('latin1');
      let end: number;
      while ((end = seen.indexOf('\r\n\r\n')) !== -1) {
        const head = seen.slice(0, end);
        seen = seen.slice(end + 4);
        const [method = '', url = ''] = head.split(' ');
        requests.push({ method, url, head, headers: {} });
      }
    });
    onConnection(socket);
  });
  const port = await listen(server);
  return wrap('tcp', server, port, `http://127.0.0.1:${port}`, requests, state, bytes);
}

/** A port with nothing listening (bound, then closed). */
export async function deadPort(): Promise<number> {
  const server = net.createServer();
  const port = await listen(server);
  await new Promise((r) => server.close(r));
  return port;
}

/**
 * An HTTP proxy: absolute-form GETs are forwarded, CONNECT is tunnelled.
 * `mode` 'blackhole' accepts and never answers; 'refuse' closes every connection at once.
 */
export async function proxyServer(mode: 'forward' | 'blackhole' | 'refuse' = 'forward'): Promise<FaultServer & { connects: string[] }> {
  const requests: Request[] = [];
  const connects: string[] = [];
  const bytes: Buffer[] = [];
  const state = { connections: 0, sockets: new Set<net.Socket>() };
  const server = http.createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', head: headOf(req), headers: req.headers });
    if (mode === 'blackhole') return;
    const target = new URL(req.url ?? '');
    const headers = { ...req.headers };
    delete headers['proxy-authorization'];
    const out = http.request({ hostname: target.hostname, port: target.port, path: `${target.pathname}${target.search}`, method: req.method, headers, agent: false }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    out.on('error', () => res.destroy());
    out.end();
  });
  server.on('connection', (socket: net.Socket) => {
    record('proxy', socket, state, bytes);
    if (mode === 'refuse') socket.destroy();
  });
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    requests.push({ method: 'CONNECT', url: req.url ?? '', head: headOf(req), headers: req.headers });
    connects.push(req.url ?? '');
    if (mode === 'blackhole') return;
    const [host = '', port = ''] = (req.url ?? '').split(/:(?=\d+$)/);
    const upstream = net.connect(Number(port), host === 'localhost' ? '127.0.0.1' : host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  server.on('clientError', (_e, socket) => socket.destroy());
  const port = await listen(server);
  const wrapped = wrap('proxy', server, port, `http://127.0.0.1:${port}`, requests, state, bytes);
  return Object.assign(wrapped, { connects });
}

export interface Tls {
  key: string;
  cert: string;
  /** A CA file holding the certificate, for NODE_EXTRA_CA_CERTS. */
  caFile: string;
  dir: string;
}

/** A throwaway self-signed certificate for localhost and 127.0.0.1 (openssl), or undefined if openssl is missing. */
export function makeTls(): Tls | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'ib-faults-tls-'));
  try {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ], { stdio: 'ignore' });
    const cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert, caFile: join(dir, 'cert.pem'), dir };
  } catch {
    rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
}
