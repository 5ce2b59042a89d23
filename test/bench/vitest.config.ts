import { defineConfig } from 'vitest/config';

// Benchmarks run through vitest (no extra TypeScript runner needed) but are not
// tests: they measure and print, and only fail when the lab itself breaks.
export default defineConfig({
  test: {
    root: new URL('../..', import.meta.url).pathname,
    include: ['test/bench/**/*.bench.ts'],
    globalSetup: ['test/setup/global.ts'],
    fileParallelism: false,
    testTimeout: 30 * 60_000,
    hookTimeout: 120_000,
    disableConsoleIntercept: true,
  },
});
