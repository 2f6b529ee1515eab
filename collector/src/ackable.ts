// When an ingest request may be enqueued, and until when its event may still be
// withdrawn. A 2xx means committed, and any other answer means nothing stored:
// - an event is enqueued only once its request has ended as a whole (Node answers
//   400 for bad framing, such as `Transfer-Encoding: xchunked` or a bad chunk,
//   after the handler has started; such a request never reaches the queue);
// - it is withdrawn (batcher.ts) when its deadline passes or its connection closes
//   while it still waits for a commit (trailing garbage after a request makes Node
//   answer 400 and close the connection).
import type { IncomingMessage, ServerResponse } from 'node:http';

/** True once the request (head and any body) was read to its end; false if it failed or was cut off first. */
export function requestEnded(req: IncomingMessage): Promise<boolean> {
  if (req.complete) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ok: boolean) => () => {
      req.off('end', onEnd);
      req.off('error', onFail);
      req.off('close', onFail);
      resolve(ok);
    };
    const onEnd = done(true);
    const onFail = done(false);
    req.on('end', onEnd);
    req.on('error', onFail);
    req.on('close', onFail);
    req.resume(); // ingest reads no body; drain one so that 'end' comes
  });
}

/** Aborts after `ms`, or as soon as the answer can no longer reach the client; `clear()` once answered. */
export function ackSignal(req: IncomingMessage, res: ServerResponse, ms: number): { signal: AbortSignal; clear(): void } {
  const ac = new AbortController();
  const abort = () => ac.abort();
  const timer = setTimeout(abort, ms);
  res.once('close', abort);
  if (res.destroyed || req.socket.destroyed) ac.abort();
  return {
    signal: ac.signal,
    clear() {
      clearTimeout(timer);
      res.off('close', abort);
    },
  };
}
