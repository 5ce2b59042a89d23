import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/global.ts'],
    // netns tests share host-level resources (namespace names, bridges): run files one at a time
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
