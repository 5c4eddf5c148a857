import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // One database server for the whole run (files isolate themselves by database name).
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    // Integration files start several processes each; two cores.
    maxWorkers: 2,
  },
});
