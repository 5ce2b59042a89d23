// The checks' clock: one timer, a heap of what is due; every item fires once, in
// order, when due; moved and removed items fire at their new time or not at all.

import { expect, it } from 'vitest';
import { CheckClock, type Timed } from '../../src/health/clock.js';

interface Item extends Timed {
  name: string;
}
const item = (name: string): Item => ({ name, due: 0, place: -1 });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

it('fires each item once, in order of due time, not before it is due', async () => {
  const fired: [string, number][] = [];
  const clock = new CheckClock<Item>((i) => fired.push([i.name, performance.now() - i.due]));
  const t0 = performance.now();
  const items = Array.from({ length: 200 }, (_, k) => item(`i${k}`));
  // Added out of order: due at t0 + (k * 37 % 200) / 2 ms.
  items.forEach((it, k) => clock.add(it, t0 + ((k * 37) % 200) / 2));
  expect(clock.size).toBe(200);
  await sleep(150);
  expect(fired.length).toBe(200);
  expect(new Set(fired.map(([n]) => n)).size).toBe(200);
  const dueOf = (n: string) => items.find((i) => i.name === n)!.due;
  for (let k = 1; k < fired.length; k++) expect(dueOf(fired[k]![0])).toBeGreaterThanOrEqual(dueOf(fired[k - 1]![0]));
  for (const [, late] of fired) expect(late).toBeGreaterThanOrEqual(-0.5); // never early (the 0.5 ms the timer rounds)
  expect(clock.size).toBe(0);
  expect(items.every((i) => i.place === -1)).toBe(true);
});

it('moves, removes and stops', async () => {
  const fired: string[] = [];
  const clock = new CheckClock<Item>((i) => {
    fired.push(i.name);
    if (i.name === 'again' && fired.filter((n) => n === 'again').length < 3) clock.add(i, performance.now() + 5); // rescheduled from its own firing
  });
  const [a, b, c, again] = ['a', 'b', 'c', 'again'].map(item) as [Item, Item, Item, Item];
  const t0 = performance.now();
  clock.add(a, t0 + 60);
  clock.add(b, t0 + 20);
  clock.add(c, t0 + 30);
  clock.add(again, t0 + 1);
  clock.add(a, t0 + 10); // moved earlier: the armed timer follows
  clock.remove(c);
  clock.remove(c); // twice: nothing
  await sleep(80);
  expect(fired.filter((n) => n !== 'again')).toEqual(['a', 'b']);
  expect(fired.filter((n) => n === 'again').length).toBe(3);
  clock.add(c, performance.now() + 10);
  clock.stop();
  await sleep(25);
  expect(fired).not.toContain('c');
  expect(c.place).toBe(-1);
});
