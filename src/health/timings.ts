// How long checks take and how late they start, as cumulative histogram
// buckets: counted where the checks run (the checker thread) for a few
// additions per check, read by the metrics at scrape time (see CheckTimings).

import { CHECK_TYPES, type CheckType } from './types.js';

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

/** The check types, in their place in the shared array (one histogram each). */
const TYPES = CHECK_TYPES;
const D = DURATION_BUCKETS.length + 3; // counts (one past the last bound), sum, count
const L = LAG_BUCKETS.length + 3;
/** Doubles a CheckTimings takes: a duration histogram per type, then the lag histogram. */
export const TIMINGS_SLOTS = TYPES.length * D + L;

function read(a: Float64Array<ArrayBufferLike>, at: number, n: number): HistogramData {
  return { counts: Array.from(a.subarray(at, at + n + 1)), sum: a[at + n + 1]!, count: a[at + n + 2]! };
}

function observe(a: Float64Array<ArrayBufferLike>, at: number, bounds: readonly number[], v: number): void {
  let i = 0;
  while (i < bounds.length && v > bounds[i]!) i++;
  a[at + i] = a[at + i]! + 1;
  a[at + bounds.length + 1] = a[at + bounds.length + 1]! + v;
  a[at + bounds.length + 2] = a[at + bounds.length + 2]! + 1;
}

/**
 * The histograms live in one Float64Array: the checker thread writes them in a
 * SharedArrayBuffer its main thread reads at scrape time (no message, no wait on
 * a busy thread); one writer, so no locks. Cumulative across a restarted checker
 * thread (the new one carries on in the same array).
 */
export class CheckTimings {
  constructor(private readonly a: Float64Array<ArrayBufferLike> = new Float64Array(TIMINGS_SLOTS)) {
    if (a.length < TIMINGS_SLOTS) throw new Error(`CheckTimings: ${a.length} slots, ${TIMINGS_SLOTS} needed`);
  }

  record(type: string, durationS: number, lagS: number): void {
    const t = TYPES.indexOf(type as CheckType);
    if (t >= 0) observe(this.a, t * D, DURATION_BUCKETS, durationS);
    observe(this.a, TYPES.length * D, LAG_BUCKETS, Math.max(0, lagS));
  }

  snapshot(): TimingsSnapshot {
    const duration: Record<string, HistogramData> = {};
    TYPES.forEach((type, t) => {
      if (this.a[t * D + D - 1]! > 0) duration[type] = read(this.a, t * D, DURATION_BUCKETS.length);
    });
    return { duration, lag: read(this.a, TYPES.length * D, LAG_BUCKETS.length) };
  }
}

/** Two snapshots added (the checker thread's and the main thread's pings). */
export function mergeTimings(a: TimingsSnapshot, b: TimingsSnapshot): TimingsSnapshot {
  const add = (x: HistogramData, y: HistogramData): HistogramData => ({ counts: x.counts.map((c, i) => c + (y.counts[i] ?? 0)), sum: x.sum + y.sum, count: x.count + y.count });
  const duration = { ...a.duration };
  for (const [k, h] of Object.entries(b.duration)) duration[k] = duration[k] ? add(duration[k], h) : h;
  return { duration, lag: add(a.lag, b.lag) };
}
