import { describe, expect, it } from 'vitest';
import { addressKey, createLimiter, INVALID_KEY, MAX_KEYS, senderKey } from '../src/ratelimit.js';

describe('addressKey', () => {
  it.each([
    // IPv4 as is
    ['203.0.113.9', '203.0.113.9'],
    ['0.0.0.0', '0.0.0.0'],
    ['255.255.255.255', '255.255.255.255'],
    [' 203.0.113.9 ', '203.0.113.9'],
    ['203.0.113.9:51234', '203.0.113.9'], // a port, as some proxies append it
    // IPv4-mapped IPv6 is the IPv4 address, in every spelling
    ['::ffff:203.0.113.9', '203.0.113.9'],
    ['::FFFF:203.0.113.9', '203.0.113.9'],
    ['0:0:0:0:0:ffff:203.0.113.9', '203.0.113.9'],
    ['0000:0000:0000:0000:0000:FFFF:cb00:7109', '203.0.113.9'],
    ['::ffff:cb00:7109', '203.0.113.9'],
    ['[::ffff:203.0.113.9]:443', '203.0.113.9'],
    ['::ffff:127.0.0.1', '127.0.0.1'],
    // other IPv6: the /64, one key for every spelling
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['2001:0db8:0:0::1', '2001:db8:0:0::/64'],
    ['2001:DB8:0000:0000:0000:0000:0000:0001', '2001:db8:0:0::/64'],
    ['2001:db8::ffff:ffff:ffff:ffff', '2001:db8:0:0::/64'],
    ['2001:db8:0:0:1::', '2001:db8:0:0::/64'],
    ['[2001:db8::1]', '2001:db8:0:0::/64'],
    ['[2001:db8::1]:8443', '2001:db8:0:0::/64'],
    ['2001:db8::1%eth0', '2001:db8:0:0::/64'], // a zone id
    ['[fe80::1%25en0]:80', 'fe80:0:0:0::/64'],
    ['2001:db8:0:1::1', '2001:db8:0:1::/64'], // the next /64: another key
    ['2001:db8:a:b:c:d:e:f', '2001:db8:a:b::/64'],
    ['1:2:3:4:5:6:7::', '1:2:3:4::/64'],
    ['::2:3:4:5:6:7:8', '0:2:3:4::/64'],
    ['::1', '0:0:0:0::/64'],
    ['::', '0:0:0:0::/64'],
    ['64:ff9b::203.0.113.9', '64:ff9b:0:0::/64'], // NAT64, not IPv4-mapped
    ['::203.0.113.9', '0:0:0:0::/64'], // IPv4-compatible (deprecated), not IPv4-mapped
    ['::fffe:203.0.113.9', '0:0:0:0::/64'],
    ['1::ffff:203.0.113.9', '1:0:0:0::/64'],
  ])('%j -> %s', (address, key) => {
    expect(addressKey(address)).toBe(key);
  });

  it.each([
    '', ' ', 'unknown', 'localhost', 'example.com', '203.0.113', '203.0.113.9.1', '256.0.0.1', '203.0.113.09', '1.2.3.4:', '1.2.3.4:123456',
    '2001:db8:::1', '2001:db8::1::2', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7:8::', '::1:2:3:4:5:6:7:8', '2001:db8::12345', '2001:db8::g',
    '1:2:3:4:5:6:7:8::9::a', ':1::', '1:', ':', ':::', '[2001:db8::1', '2001:db8::1]', 'x[2001:db8::1]', '[2001:db8::1]:', '[]', '::ffff:1.2.3', '::ffff:1.2.3.4.5', '1.2.3.4::', '::1.2.3.4:5', '[1.2.3.4]x',
    '\u0000', '２０３.0.113.9', '1.2.3.4, 5.6.7.8', 'x'.repeat(10_000),
  ])('%j is not an address: the shared key', (address) => {
    expect(addressKey(address)).toBe(INVALID_KEY);
    expect(INVALID_KEY).toBe('invalid'); // no address parses to this key, and it is never empty
  });
});

describe('senderKey', () => {
  it.each([
    ['the peer without --trust-proxy', '203.0.113.9', '198.51.100.7', false, '203.0.113.9'],
    ['the peer, IPv4-mapped', '::ffff:203.0.113.9', undefined, false, '203.0.113.9'],
    ['the peer, IPv6', '2001:db8::5', undefined, false, '2001:db8:0:0::/64'],
    ['the last X-Forwarded-For entry with --trust-proxy', '127.0.0.1', '10.0.0.1, 198.51.100.7', true, '198.51.100.7'],
    ['the last entry, through the same key function', '127.0.0.1', '203.0.113.9 , 2001:DB8:0:0::77 ', true, '2001:db8:0:0::/64'],
    ['the peer when the header is empty', '127.0.0.1', ' , ', true, '127.0.0.1'],
    ['the peer when there is no header', '127.0.0.1', undefined, true, '127.0.0.1'],
    ['a garbage last entry is the shared key, not the peer', '127.0.0.1', '198.51.100.7, garbage', true, INVALID_KEY],
    ['no peer address (a destroyed socket)', undefined, undefined, false, INVALID_KEY],
    ['headers given as a list', '127.0.0.1', ['10.0.0.1', '::ffff:198.51.100.7'], true, '198.51.100.7'],
  ] as const)('%s', (_, peer, forwarded, trustProxy, key) => {
    expect(senderKey(peer, forwarded as string | string[] | undefined, trustProxy)).toBe(key);
  });
});

/** A limiter on a clock the test moves; `send(key, n)` answers each request's verdict as 'ok' or '429'. */
function rig(options: { limit: number; maxKeys?: number; overflowLimit?: number; windowMs?: number }) {
  let t = 1_000_000;
  const limiter = createLimiter({ ...options, now: () => t });
  const send = (key: string, n = 1) => Array.from({ length: n }, () => (limiter.limited(key) ? '429' : 'ok'));
  return { limiter, send, advance: (ms: number) => void (t += ms) };
}
const ok = (n: number) => Array<string>(n).fill('ok');
const no = (n: number) => Array<string>(n).fill('429');

describe('createLimiter', () => {
  it.each([1, 2, 5])('limit %d: exactly that many requests per sender per window, then 429', (limit) => {
    const { send } = rig({ limit });
    expect(send('a', limit + 3)).toEqual([...ok(limit), ...no(3)]);
    expect(send('b', limit + 1)).toEqual([...ok(limit), ...no(1)]); // another sender has its own budget
  });

  it.each<[string, number[], boolean[]]>([
    ['a POST of 3 events counts 3: 3 + 2 of 5 fit, the next 1 does not', [3, 2, 1], [false, false, true]],
    ['a POST over the whole budget is limited at once', [6], [true]],
    ['exactly the budget fits', [5], [false]],
  ])('events: %s', (_what, posts, verdicts) => {
    const { limiter } = rig({ limit: 5 });
    expect(posts.map((n) => limiter.limited('a', n))).toEqual(verdicts);
  });

  it('the shared overflow budget counts events too', () => {
    const { limiter } = rig({ limit: 5, maxKeys: 1 });
    limiter.limited('a');
    expect([limiter.limited('b', 4), limiter.limited('c', 2)]).toEqual([false, true]);
    expect(limiter.overflowed).toBe(6);
  });

  it.each([
    ['just before the window ends: still limited', 59_999, ['429']],
    ['when the window ends: a new budget', 60_000, ['ok', 'ok', '429']],
    ['long after: a new budget', 3_600_000, ['ok', 'ok', '429']],
  ])('window roll, %s', (_, after, verdicts) => {
    const { send, advance } = rig({ limit: 2 });
    expect(send('a', 3)).toEqual(['ok', 'ok', '429']);
    advance(after);
    expect(send('a', verdicts.length)).toEqual(verdicts);
  });

  it('the window starts at the first request after a roll (fixed window), and a roll forgets every sender', () => {
    const { limiter, send, advance } = rig({ limit: 1, windowMs: 100 });
    send('a');
    send('b');
    advance(150);
    expect(send('a')).toEqual(['ok']); // new window from here
    expect(limiter.tracked).toBe(1);
    advance(60);
    expect(send('a')).toEqual(['429']); // 60 ms into that window, though 210 ms after the first
  });

  it('sweep() forgets senders once the window is over, without a request', () => {
    const { limiter, send, advance } = rig({ limit: 1 });
    send('a', 2);
    send('b');
    limiter.sweep();
    expect(limiter.tracked).toBe(2);
    advance(60_000);
    limiter.sweep();
    expect(limiter.tracked).toBe(0);
    expect(send('a')).toEqual(['ok']);
  });

  it('a clock that goes back starts a new window instead of holding this one open', () => {
    const { send, advance } = rig({ limit: 1 });
    expect(send('a', 2)).toEqual(['ok', '429']);
    advance(-3_600_000);
    expect(send('a', 2)).toEqual(['ok', '429']);
  });

  it('cap reached: a new sender counts against the shared overflow budget, a known sender keeps its own', () => {
    const { limiter, send } = rig({ limit: 3, maxKeys: 2, overflowLimit: 4 });
    expect(send('known-1')).toEqual(['ok']);
    expect(send('known-2')).toEqual(['ok']);
    expect(limiter.tracked).toBe(2);
    // Fresh senders past the cap: 4 requests between all of them, however many addresses they rotate through.
    expect(['new-1', 'new-2', 'new-3', 'new-4', 'new-5', 'new-6'].map((k) => send(k)[0])).toEqual([...ok(4), ...no(2)]);
    expect(send('new-1', 2)).toEqual(no(2));
    expect([limiter.tracked, limiter.overflowed]).toEqual([2, 8]);
    // Known senders are unaffected by the exhausted overflow budget: each still has the rest of its own.
    expect(send('known-1', 3)).toEqual(['ok', 'ok', '429']);
    expect(send('known-2', 3)).toEqual(['ok', 'ok', '429']);
  });

  it('spent() says whether the next request would be refused, without counting one (the token throttle asks it first)', () => {
    const { limiter, send, advance } = rig({ limit: 2, maxKeys: 1, overflowLimit: 1 });
    const spent = (k: string) => limiter.spent(k);
    expect([spent('a'), spent('a')]).toEqual([false, false]);
    expect([limiter.tracked, limiter.overflowed]).toEqual([0, 0]);
    send('a');
    expect(spent('a')).toBe(false);
    send('a');
    expect(spent('a')).toBe(true); // at the limit: the next would be the third
    // The cap of 1 tracked sender is reached: another sender is judged by the shared overflow budget.
    expect(spent('b')).toBe(false);
    send('b');
    expect([spent('b'), spent('c')]).toEqual([true, true]);
    expect([limiter.tracked, limiter.overflowed]).toEqual([1, 1]);
    advance(60_000);
    expect([spent('a'), spent('b')]).toEqual([false, false]); // a new window
  });

  it('the overflow budget defaults to the per-sender limit, and rolls with the window', () => {
    const { limiter, send, advance } = rig({ limit: 2, maxKeys: 1 });
    send('known');
    expect(['x', 'y', 'z'].map((k) => send(k)[0])).toEqual(['ok', 'ok', '429']);
    advance(60_000);
    expect(['x', 'y', 'z'].map((k) => send(k)[0])).toEqual(['ok', 'ok', 'ok']); // a new window: x is tracked now, y and z overflow
    expect([limiter.tracked, limiter.overflowed]).toEqual([1, 2]);
  });

  it('a sender limited in the overflow is not tracked later in the same window, even after known senders go quiet', () => {
    const { limiter, send } = rig({ limit: 1, maxKeys: 1, overflowLimit: 1 });
    send('known');
    expect(send('fresh', 3)).toEqual(['ok', '429', '429']);
    expect(limiter.tracked).toBe(1);
  });

  it.each([1, 7, 100])('memory is bounded: with a cap of %d, the tracked count never exceeds it under a flood of fresh senders', (maxKeys) => {
    const { limiter, send } = rig({ limit: 5, maxKeys });
    let most = 0;
    for (let i = 0; i < maxKeys * 20; i++) {
      send(`2001:db8:${i.toString(16)}::/64`);
      most = Math.max(most, limiter.tracked);
    }
    expect([most, limiter.tracked]).toEqual([maxKeys, maxKeys]);
  });

  it(`the default cap is MAX_KEYS (${MAX_KEYS}), reached exactly`, () => {
    const { limiter, send } = rig({ limit: 1 });
    for (let i = 0; i < MAX_KEYS * 3; i++) send(String(i));
    expect([limiter.tracked, limiter.overflowed]).toEqual([MAX_KEYS, MAX_KEYS * 2]);
  });
});
