import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 180_000,
    // Integration files start several processes each; two cores.
    maxWorkers: 2,
    projects: [
      { extends: true, test: { name: "unit", include: ["test/unit/**/*.test.ts"] } },
      {
        extends: true,
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts", "test/e2e/**/*.test.ts"],
          // One file at a time: each starts several processes and some push thousands of messages;
          // on two cores, files competing for CPU turn timeouts into flakes.
          fileParallelism: false,
          // One database server for the run (files isolate themselves by database name).
          globalSetup: ["test/global-setup.ts"],
        },
      },
    ],
  },
});
