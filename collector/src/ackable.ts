// When an ingest request may be enqueued, and until when its event may still be
// withdrawn. A 2xx means committed, and any other answer means nothing stored:
// - an event is enqueued only once its request has ended as a whole (Node answers
//   400 for bad framing, such as `Transfer-Encoding: xchunked` or a bad chunk,
//   after the handler has started; such a request never reaches the queue);
// - it is withdrawn (batcher.ts) when its deadline passes or its connection is found
//   closed while it still waits for a commit (trailing garbage after a request makes
//   Node answer 400 and close the connection): `gone` is asked right before its commit
//   would start, and at the batcher's deadline timer.
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * True when the request ends with its head: a GET or HEAD with no `Transfer-Encoding` and no
 * `Content-Length` other than 0. Node's parser completes such a message right after the handler
 * returns, with no byte more to read, so no framing error can follow for it (what comes after it on
 * the connection is the next request's: if that is garbage, the connection closes, which `gone` sees).
 */
export function endsWithHead(req: IncomingMessage): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const h = req.headers;
  return h['transfer-encoding'] === undefined && (h['content-length'] === undefined || h['content-length'] === '0');
}

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

/** Nobody can hear the answer any more: the response or its connection is closed. */
export const answerGone = (req: IncomingMessage, res: ServerResponse): boolean => res.destroyed || req.socket.destroyed;
