import { describe, expect, it } from 'vitest';
import { ConnectionTable } from '../src/connections.js';

// The connection caps as a script of events, each followed by what it must close
// and the table's size. Connections are named by strings; `a.1` is from address a.
type Step = [op: 'open' | 'busy' | 'idle' | 'closed', conn: string, closes: string[], size: number];

const addr = (c: string) => c.split('.')[0]!;

function play(caps: { max: number; perAddress: number }, steps: Step[]): void {
  const t = new ConnectionTable<string>(caps);
  steps.forEach(([op, c, closes, size], i) => {
    let got: string[] = [];
    if (op === 'open') got = t.open(c, addr(c));
    else t[op](c);
    expect([i, op, c, got, t.size]).toEqual([i, op, c, closes, size]);
  });
}

describe('ConnectionTable', () => {
  it.each<[string, { max: number; perAddress: number }, Step[]]>([
    ['no caps: everything is admitted', { max: 0, perAddress: 0 }, [['open', 'a.1', [], 1], ['open', 'a.2', [], 2], ['open', 'b.1', [], 3]]],
    [
      'per address: the connection over the cap is refused, others are not; a close frees a place',
      { max: 0, perAddress: 2 },
      [
        ['open', 'a.1', [], 1],
        ['open', 'a.2', [], 2],
        ['open', 'a.3', ['a.3'], 2],
        ['open', 'b.1', [], 3],
        ['closed', 'a.1', [], 2],
        ['open', 'a.4', [], 3],
        ['open', 'a.5', ['a.5'], 3],
      ],
    ],
    [
      'in total: the longest waiting connection gives way to a new one',
      { max: 2, perAddress: 0 },
      [
        ['open', 'a.1', [], 1],
        ['open', 'b.1', [], 2],
        ['open', 'c.1', ['a.1'], 2],
        ['open', 'd.1', ['b.1'], 2],
      ],
    ],
    [
      'a connection with a request in progress is never the one closed; when all are busy the new one is refused',
      { max: 2, perAddress: 0 },
      [
        ['open', 'a.1', [], 1],
        ['open', 'b.1', [], 2],
        ['busy', 'a.1', [], 2],
        ['open', 'c.1', ['b.1'], 2],
        ['busy', 'c.1', [], 2],
        ['open', 'd.1', ['d.1'], 2],
      ],
    ],
    [
      'idle after an answer makes a connection the newest waiting, so an older one goes first',
      { max: 2, perAddress: 0 },
      [
        ['open', 'a.1', [], 1],
        ['open', 'b.1', [], 2],
        ['busy', 'a.1', [], 2],
        ['idle', 'a.1', [], 2],
        ['open', 'c.1', ['b.1'], 2],
        ['open', 'd.1', ['a.1'], 2],
      ],
    ],
    [
      'a connection closed by the total cap frees its address place',
      { max: 2, perAddress: 1 },
      [
        ['open', 'a.1', [], 1],
        ['open', 'b.1', [], 2],
        ['open', 'c.1', ['a.1'], 2],
        ['open', 'a.2', ['b.1'], 2],
        ['open', 'a.3', ['a.3'], 2],
      ],
    ],
    [
      'closing an unknown or already closed connection, or idling one, changes nothing',
      { max: 0, perAddress: 1 },
      [
        ['open', 'a.1', [], 1],
        ['closed', 'x.1', [], 1],
        ['idle', 'x.1', [], 1],
        ['closed', 'a.1', [], 0],
        ['closed', 'a.1', [], 0],
        ['idle', 'a.1', [], 0],
        ['open', 'a.2', [], 1],
      ],
    ],
  ])('%s', (_name, caps, steps) => play(caps, steps));

  it('an idle call for a closed connection does not bring it back as waiting (it would be "closed" twice)', () => {
    const t = new ConnectionTable<string>({ max: 1, perAddress: 0 });
    t.open('a.1', 'a');
    t.closed('a.1');
    t.idle('a.1');
    expect(t.open('b.1', 'b')).toEqual([]);
    expect(t.open('c.1', 'c')).toEqual(['b.1']);
    expect(t.size).toBe(1);
  });
});
