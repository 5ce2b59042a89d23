// One timer for many checks: a binary min-heap of what is due when, and a single
// node timer armed for the earliest. A setTimeout per check run made a Timeout
// object (and a closure) per run that lived the whole check interval — long
// enough to survive two young-generation collections and be promoted, so at
// 12,000 checks a second the checker thread's old generation filled with them
// between full collections. Here a check's place in the heap is a field of the
// check itself: scheduling allocates nothing.

/** What the clock schedules: the clock keeps its place in these two fields. */
export interface Timed {
  /** When it is due (performance.now() time). */
  due: number;
  /** Its index in the heap, -1 when not scheduled. */
  place: number;
}

export class CheckClock<T extends Timed> {
  private readonly heap: T[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** When the armed timer fires (Infinity: not armed). */
  private armedAt = Infinity;
  private firing = false;

  constructor(private readonly fire: (item: T) => void) {}

  get size(): number {
    return this.heap.length;
  }

  /** Schedules `item` at `at` (moves it if it was scheduled). */
  add(item: T, at: number): void {
    if (item.place >= 0) this.remove(item);
    item.due = at;
    item.place = this.heap.length;
    this.heap.push(item);
    this.up(item.place);
    if (!this.firing && at < this.armedAt) this.arm();
  }

  remove(item: T): void {
    const i = item.place;
    if (i < 0 || this.heap[i] !== item) return;
    item.place = -1;
    const last = this.heap.pop()!;
    if (i < this.heap.length) {
      this.heap[i] = last;
      last.place = i;
      this.down(i);
      this.up(last.place);
    }
    if (this.heap.length === 0) this.disarm();
  }

  stop(): void {
    for (const item of this.heap) item.place = -1;
    this.heap.length = 0;
    this.disarm();
  }

  private disarm(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.armedAt = Infinity;
  }

  private arm(): void {
    clearTimeout(this.timer);
    const top = this.heap[0];
    if (!top) return this.disarm();
    this.armedAt = top.due;
    this.timer = setTimeout(this.onTimer, Math.max(0, top.due - performance.now()));
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.armedAt = Infinity;
    this.firing = true;
    try {
      // Everything due within the timer's own resolution (1 ms) runs now.
      const until = performance.now() + 0.5;
      for (let top = this.heap[0]; top && top.due <= until; top = this.heap[0]) {
        this.remove(top);
        this.fire(top);
      }
    } finally {
      this.firing = false;
      this.arm();
    }
  };

  private up(i: number): void {
    const h = this.heap;
    const item = h[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]!.due <= item.due) break;
      h[i] = h[p]!;
      h[i]!.place = i;
      i = p;
    }
    h[i] = item;
    item.place = i;
  }

  private down(i: number): void {
    const h = this.heap;
    const n = h.length;
    const item = h[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const c = l + 1 < n && h[l + 1]!.due < h[l]!.due ? l + 1 : l;
      if (h[c]!.due >= item.due) break;
      h[i] = h[c]!;
      h[i]!.place = i;
      i = c;
    }
    h[i] = item;
    item.place = i;
  }
}
