// Reading an `strace -f -yy -s N` log of the collector: the order in which, for each acknowledged
// event, its request was read, its bytes were written to the SQLite WAL, the WAL was synced, and
// its 200 was written back. strace prints every event as it sees it, so a line's position is the
// order of the syscalls' stops (a syscall split by another thread's shows as `<unfinished ...>`
// and later `<... name resumed>`, by the same PID).

export interface AckOrder {
  /** Events whose 200 went out, in log order. */
  acked: string[];
  /** Events answered 200 with no WAL write holding their id before the answer. */
  notWritten: string[];
  /** Events answered 200 before a sync of the WAL completed after their WAL write. */
  notSynced: string[];
}

const LINE = /^(\d+)\s+(.*)$/;
/** A socket as strace -yy shows it, e.g. 25<TCP:[127.0.0.1:7708->127.0.0.1:40212]>. */
const SOCKET = /^(?:read|recvfrom|write|writev|sendto|sendmsg)\(\d+<(TCP:\[[^\]]+\])>/;
const SYNC = /^(?:fdatasync|fsync)\(\d+<([^>]+)>/;
const WAL_WRITE = /^(?:pwrite64|write)\(\d+<([^>]+-wal)>,\s*"/;

/**
 * Checks, for every event id (`idOf` finds it in a request's bytes), that its 200 was written only
 * after a WAL sync that completed after the WAL write holding its id.
 */
export function ackOrder(log: string, idOf: (request: string) => string | undefined): AckOrder {
  const out: AckOrder = { acked: [], notWritten: [], notSynced: [] };
  const waiting = new Map<string, string>(); // socket -> the event id of the request read on it, not yet answered
  const writtenAt = new Map<string, number>(); // event id -> line of its first WAL write
  const syncs: number[] = []; // lines where a WAL sync completed
  const unfinishedSync = new Set<string>(); // PIDs inside a WAL sync
  const unfinishedRead = new Map<string, string>(); // PID -> the socket it is reading (its bytes come with the resumed line)
  const lines = log.split('\n');
  const ids = new Set<string>();
  const readRequest = (socket: string, bytes: string) => {
    const id = idOf(bytes);
    if (id === undefined) return;
    waiting.set(socket, id);
    ids.add(id);
  };
  lines.forEach((raw, n) => {
    const m = LINE.exec(raw);
    if (!m) return;
    const [, pid, call] = m as unknown as [string, string, string];
    if (call.startsWith('<... fdatasync resumed>') || call.startsWith('<... fsync resumed>')) {
      if (unfinishedSync.delete(pid) && /\)\s*=\s*0\b/.test(call)) syncs.push(n);
      return;
    }
    if (call.startsWith('<... read resumed>') || call.startsWith('<... recvfrom resumed>')) {
      const socket = unfinishedRead.get(pid);
      unfinishedRead.delete(pid);
      if (socket !== undefined) readRequest(socket, call);
      return;
    }
    const sync = SYNC.exec(call);
    if (sync && sync[1]!.endsWith('-wal')) {
      if (call.includes('<unfinished ...>')) unfinishedSync.add(pid);
      else if (/\)\s*=\s*0\b/.test(call)) syncs.push(n);
      return;
    }
    if (WAL_WRITE.test(call)) {
      for (const id of ids) if (!writtenAt.has(id) && call.includes(id)) writtenAt.set(id, n);
      return;
    }
    const sock = SOCKET.exec(call);
    if (!sock) return;
    const socket = sock[1]!;
    if (/^(?:read|recvfrom)\(/.test(call)) {
      if (call.includes('<unfinished ...>')) unfinishedRead.set(pid, socket);
      else readRequest(socket, call);
    } else if (/"HTTP\/1\.1 200 /.test(call)) {
      const id = waiting.get(socket);
      if (id === undefined) return;
      waiting.delete(socket);
      out.acked.push(id);
      const w = writtenAt.get(id);
      if (w === undefined) out.notWritten.push(id);
      else if (!syncs.some((s) => s > w && s < n)) out.notSynced.push(id);
    }
  });
  return out;
}
