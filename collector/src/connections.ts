// Connection caps, pure: which connections to close when one opens. A slow or
// stuck client holds a connection (and a file descriptor) until the header or
// idle timeout; without caps, enough of them hold every descriptor and nobody
// else is served.
//
// - Per address (an IPv4 address or an IPv6 /64, as the rate limit counts): a
//   connection over the address's cap is closed at once, so one sender can hold
//   at most that many.
// - In total: at the cap, a new connection closes the one that has waited
//   longest without a request in progress (opened and still sending its head,
//   or idle between keep-alive requests); a client that sends its request at
//   once is served, while connections that trickle are the first to go. When
//   every connection has a request in progress, the new one is closed.

export interface ConnectionCaps {
  /** Open connections at most; 0: no cap. */
  max: number;
  /** Open connections per address at most; 0: no cap. */
  perAddress: number;
}

export class ConnectionTable<C> {
  /** Open connections without a request in progress, oldest first (a Set keeps insertion order). */
  private readonly waiting = new Set<C>();
  private readonly address = new Map<C, string>();
  private readonly perAddress = new Map<string, number>();

  constructor(private readonly caps: ConnectionCaps) {}

  get size(): number {
    return this.address.size;
  }

  /** `c` opened from `address`: the connections to close now (`c` itself when it is not admitted). */
  open(c: C, address: string): C[] {
    const n = this.perAddress.get(address) ?? 0;
    if (this.caps.perAddress > 0 && n >= this.caps.perAddress) return [c];
    const close: C[] = [];
    if (this.caps.max > 0 && this.address.size >= this.caps.max) {
      const oldest = this.waiting.values().next();
      if (oldest.done) return [c];
      this.closed(oldest.value);
      close.push(oldest.value);
    }
    this.address.set(c, address);
    this.perAddress.set(address, n + 1);
    this.waiting.add(c);
    return close;
  }

  /** A request arrived on `c` (its head is complete). */
  busy(c: C): void {
    this.waiting.delete(c);
  }

  /** `c` answered its request and waits for the next one (keep-alive): it is now the newest waiting. */
  idle(c: C): void {
    if (!this.address.has(c)) return;
    this.waiting.delete(c);
    this.waiting.add(c);
  }

  closed(c: C): void {
    const a = this.address.get(c);
    if (a === undefined) return;
    this.address.delete(c);
    this.waiting.delete(c);
    const n = this.perAddress.get(a)! - 1;
    if (n > 0) this.perAddress.set(a, n);
    else this.perAddress.delete(a);
  }
}
