// The benchmark's timeline of ingest (INSTALL_BEACON_BENCH_STAGES=1, see bench/run.ts): how long each
// request spends in each stage, from the handler to the answer. Off by default; off, every call
// below returns at its first test. Each thread has its own copy (the SQLite worker sends its stages back).

export const clock = (): number => performance.timeOrigin + performance.now();

/** Per stage, flat pairs of [milliseconds, weight] (a batch's stage weighs as many requests as it holds). */
export type Stages = Record<string, number[]>;

let stages: Stages | undefined;

export function traceStages(on: boolean): void {
  stages = on ? {} : undefined;
}
export const tracing = (): boolean => stages !== undefined;

export function stage(name: string, ms: number, weight = 1): void {
  if (stages) (stages[name] ??= []).push(ms, weight);
}

/** What was recorded since the last take, cleared. */
export function takeStages(): Stages | undefined {
  const s = stages;
  if (s) stages = {};
  return s;
}

export function addStages(from: Stages): void {
  for (const [name, pairs] of Object.entries(from)) for (let i = 0; i < pairs.length; i += 2) stage(name, pairs[i]!, pairs[i + 1]);
}

/** Per stage: the weighted mean, median and p99 in ms (means add up along the path; medians do not), and the count (weights summed). */
export function summarize(s: Stages): Record<string, { mean: number; median: number; p99: number; n: number }> {
  const out: Record<string, { mean: number; median: number; p99: number; n: number }> = {};
  for (const [name, flat] of Object.entries(s)) {
    const pairs: Array<[number, number]> = [];
    let total = 0;
    let sum = 0;
    for (let i = 0; i < flat.length; i += 2) {
      pairs.push([flat[i]!, flat[i + 1]!]);
      total += flat[i + 1]!;
      sum += flat[i]! * flat[i + 1]!;
    }
    pairs.sort((a, b) => a[0] - b[0]);
    const at = (q: number) => {
      let seen = 0;
      for (const [ms, w] of pairs) if ((seen += w) >= q * total) return ms;
      return pairs[pairs.length - 1]?.[0] ?? 0;
    };
    out[name] = { mean: sum / total, median: at(0.5), p99: at(0.99), n: total };
  }
  return out;
}
