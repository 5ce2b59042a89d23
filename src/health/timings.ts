// How long checks take and how late they start, as cumulative histogram
// buckets: counted where the checks run (the checker thread) for a few
// additions per check, read by the metrics at scrape time with the snapshot.

export const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;
export const LAG_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] as const;

/** One histogram: counts per upper bound (not cumulative), the sum and the count. */
export interface HistogramData {
  counts: number[];
  sum: number;
  count: number;
}

export interface TimingsSnapshot {
  /** Per check type: how long a check took (seconds). */
  duration: Record<string, HistogramData>;
  /** How late checks started against their schedule (seconds): the checker thread's lag. */
  lag: HistogramData;
}

const empty = (n: number): HistogramData => ({ counts: new Array<number>(n + 1).fill(0), sum: 0, count: 0 });

function observe(h: HistogramData, bounds: readonly number[], v: number): void {
  let i = 0;
  while (i < bounds.length && v > bounds[i]!) i++;
  h.counts[i]!++;
  h.sum += v;
  h.count++;
}

export class CheckTimings {
  private readonly duration = new Map<string, HistogramData>();
  private readonly lag = empty(LAG_BUCKETS.length);

  record(type: string, durationS: number, lagS: number): void {
    let d = this.duration.get(type);
    if (!d) this.duration.set(type, (d = empty(DURATION_BUCKETS.length)));
    observe(d, DURATION_BUCKETS, durationS);
    observe(this.lag, LAG_BUCKETS, Math.max(0, lagS));
  }

  snapshot(): TimingsSnapshot {
    return { duration: Object.fromEntries([...this.duration].map(([k, h]) => [k, structuredClone(h)])), lag: structuredClone(this.lag) };
  }
}

/** Two snapshots added (the checker thread's and the main thread's pings). */
export function mergeTimings(a: TimingsSnapshot, b: TimingsSnapshot): TimingsSnapshot {
  const add = (x: HistogramData, y: HistogramData): HistogramData => ({ counts: x.counts.map((c, i) => c + (y.counts[i] ?? 0)), sum: x.sum + y.sum, count: x.count + y.count });
  const duration = { ...a.duration };
  for (const [k, h] of Object.entries(b.duration)) duration[k] = duration[k] ? add(duration[k], h) : h;
  return { duration, lag: add(a.lag, b.lag) };
}
