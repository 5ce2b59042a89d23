// Long work on the main thread in slices of time, not of items: the VRRP adverts
// share this event loop, and a slice of "250 real servers" that takes 3 ms
// natively took 60-260 ms on an emulated CPU (an advert 0.95 s late during a
// scrape in the QEMU guest). `due()` is cheap enough to ask per item.

/** One turn of the event loop: timers (the adverts) and I/O run before the work goes on. */
export const turn = (): Promise<void> => new Promise<void>((r) => setImmediate(r));

export class Slicer {
  private start = performance.now();

  /** `budgetMs`: how long a slice may hold the loop. */
  constructor(private readonly budgetMs = 5) {}

  /** Whether this slice has used its time: then `await turn()` (or call next()). */
  due(): boolean {
    return performance.now() - this.start >= this.budgetMs;
  }

  /** Gives the loop a turn if the slice has used its time. */
  async next(): Promise<void> {
    if (!this.due()) return;
    await turn();
    this.start = performance.now();
  }

  /** Gives the loop a turn now and starts a new slice. */
  async yield(): Promise<void> {
    await turn();
    this.start = performance.now();
  }
}
