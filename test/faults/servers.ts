import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Local servers for the fault suite, all on 127.0.0.1 port 0. Every one of
// them records every byte it receives into WIRE, so the privacy check can read
// the suite's whole traffic: plain TCP bytes, or the decrypted bytes of a TLS
// connection. The one place ciphertext is received is a CONNECT proxy's
// tunnel: it is recorded apart (kind 'tunnel', with the target it went to),
// never mixed with plaintext, and the privacy check requires that target to be
// one of these servers, whose decrypted side is recorded in full.

export interface Capture {
  server: string;
  /** 'plain': bytes as sent (HTTP, or TLS after decryption); 'tunnel': CONNECT tunnel bytes (TLS ciphertext). */
  kind: 'plain' | 'tunnel';
  bytes: Buffer[];
  /** For a tunnel: the host:port the CONNECT asked for. */
  target?: string;
}

/** Every byte any fault server received in this worker, per server (and per CONNECT tunnel). */
export const WIRE: Capture[] = [];
/** The host:port of every TLS server started in this worker (the only valid tunnel targets). */
export const TLS_TARGETS = new Set<string>();

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
  /** Wait until `n` requests arrived; throws after `ms`. */
  waitFor(n: number, ms: number): Promise<number>;
  /**
   * Wait until this server has taken in everything sent to it: no connection
   * left in the kernel's accept queue and every accepted one closed, so every
   * byte was read and every request counted. Call it once the clients are gone
   * (the hook exited, senders reaped); throws after `ms`.
   */
  drained(ms?: number): Promise<void>;
  close(): Promise<void>;
}

export type Respond = (req: http.IncomingMessage, res: http.ServerResponse, index: number) => void;

const open = new Set<{ close(): Promise<void> }>();

/** Close every server still open (afterEach/afterAll). */
export async function closeAll(): Promise<void> {
  await Promise.all([...open].map((s) => s.close()));
}

interface State {
  connections: number;
  sockets: Set<net.Socket>;
}

/** Count a TCP connection and keep it until it closes (for `drained` and `close`). */
function track(socket: net.Socket, state: State): void {
  state.connections++;
  state.sockets.add(socket);
  socket.on('close', () => state.sockets.delete(socket));
  socket.on('error', () => undefined); // a client that resets is one of the faults under test
}

/** Keep every byte read from `socket` (a plain socket, or a TLS socket's decrypted side). */
function capture(socket: net.Socket, bytes: Buffer[]): void {
  socket.on('data', (d: Buffer) => bytes.push(Buffer.from(d)));
  socket.on('error', () => undefined);
}

/**
 * Connections waiting in the kernel's accept queue of the listener on
 * 127.0.0.1:`port` (Linux: /proc/net/tcp shows it as rx_queue on the LISTEN line).
 */
export function acceptQueue(port: number): number {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const line of readFileSync('/proc/net/tcp', 'latin1').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[1] === local && f[3] === '0A') return parseInt(f[4]!.split(':')[1]!, 16);
  }
  throw new Error(`no listener on 127.0.0.1:${port} in /proc/net/tcp`);
}

function wrap(name: string, server: net.Server, port: number, base: string, requests: Request[], state: State, bytes: Buffer[]): FaultServer {
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
      while (requests.length < n) {
        if (Date.now() > end) throw new Error(`${name} server: ${requests.length} of ${n} requests after ${ms} ms`);
        await new Promise((r) => setTimeout(r, 20));
      }
      return requests.length;
    },
    async drained(ms = 5000) {
      const end = Date.now() + ms;
      while (acceptQueue(port) > 0 || state.sockets.size > 0) {
        if (Date.now() > end) throw new Error(`${name} server not drained after ${ms} ms: ${acceptQueue(port)} queued, ${state.sockets.size} open`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        open.delete(self);
        for (const s of state.sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  open.add(self);
  WIRE.push({ server: name, kind: 'plain', bytes });
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
  const state: State = { connections: 0, sockets: new Set<net.Socket>() };
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
  // Counted at TCP accept (a TLS handshake that never completes is still a
  // connection); recorded after decryption for TLS.
  server.on('connection', (socket: net.Socket) => {
    track(socket, state);
    if (!tls) capture(socket, bytes);
  });
  if (tls) server.on('secureConnection', (socket: net.Socket) => capture(socket, bytes));
  server.on('clientError', (_e, socket) => socket.destroy());
  const port = await listen(server);
  if (tls) TLS_TARGETS.add(`localhost:${port}`).add(`127.0.0.1:${port}`);
  return wrap(tls ? 'https' : 'http', server, port, tls ? `https://localhost:${port}` : `http://127.0.0.1:${port}`, requests, state, bytes);
}

/** A raw TCP server: `onConnection` decides what (if anything) to answer. */
export async function tcpServer(onConnection: (socket: net.Socket) => void): Promise<FaultServer> {
  const requests: Request[] = [];
  const bytes: Buffer[] = [];
  const state: State = { connections: 0, sockets: new Set<net.Socket>() };
  const server = net.createServer((socket) => {
    track(socket, state);
    capture(socket, bytes);
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
  const state: State = { connections: 0, sockets: new Set<net.Socket>() };
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
  // The proxy's own plaintext (request heads, CONNECT lines) is recorded up
  // to a CONNECT; what follows on that socket is the tunnel, recorded apart.
  server.on('connection', (socket: net.Socket) => {
    track(socket, state);
    const mine: Buffer[] = [];
    WIRE.push({ server: 'proxy', kind: 'plain', bytes: mine });
    const own = (d: Buffer) => mine.push(Buffer.from(d));
    // First in line: the HTTP parser (the next listener) emits 'connect' while handling this very chunk.
    socket.prependListener('data', own);
    socket.once('ib-tunnel', (head: Buffer) => {
      socket.off('data', own);
      // Tunnel bytes that came in the same read as the CONNECT head are not the proxy's plaintext.
      const all = Buffer.concat(mine);
      if (head.length === 0) return;
      if (!all.subarray(all.length - head.length).equals(head)) throw new Error('proxy capture: the tunnel head is not at the end of what was read');
      mine.splice(0, mine.length, all.subarray(0, all.length - head.length));
    });
    if (mode === 'refuse') socket.destroy();
  });
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    requests.push({ method: 'CONNECT', url: req.url ?? '', head: headOf(req), headers: req.headers });
    connects.push(req.url ?? '');
    client.emit('ib-tunnel', head);
    const tunnel: Capture = { server: 'proxy', kind: 'tunnel', bytes: head.length ? [Buffer.from(head)] : [], target: req.url ?? '' };
    WIRE.push(tunnel);
    client.on('data', (d: Buffer) => tunnel.bytes.push(Buffer.from(d)));
    // A black hole answers nothing, but hangs up when the client does (the HTTP
    // server's sockets allow half-open, and after CONNECT nothing else closes it).
    if (mode === 'blackhole') return void client.on('end', () => client.destroy());
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
