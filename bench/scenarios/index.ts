/** Runs the selected scenarios in a fixed order, one rig at a time, recording failures instead of stopping. */
import { measureRig, type RigResult } from "../measure.ts";
import type { BenchResults } from "../results.ts";
import { type Rig, SYSTEM_LABELS, type SystemId, type Workload } from "../rig.ts";
import { startClassic } from "./classic.ts";
import type { BenchContext } from "./common.ts";
import { runFanout } from "./fanout.ts";
import { startFloor } from "./floor.ts";
import { runPartitioned } from "./partitioned.ts";
import { runRecovery } from "./recovery.ts";
import { redisUnavailable, startRedis } from "./redis.ts";
import { runSlowConsumer } from "./slow-consumer.ts";
import { startTailcast } from "./tailcast.ts";

const STARTERS: Record<SystemId, (ctx: BenchContext, w: Workload) => Promise<Rig>> = {
  floor: startFloor,
  tailcast: startTailcast,
  classic: startClassic,
  redis: startRedis,
};

/** A scenario's result, or undefined with its failure logged and recorded among the skipped. */
async function orSkipped<T>(
  ctx: BenchContext,
  results: BenchResults,
  scenario: string,
  run: () => Promise<T>,
): Promise<T | undefined> {
  try {
    return await run();
  } catch (err) {
    const message = err instanceof Error ? (err.message.split("\n")[0] ?? "") : String(err);
    ctx.log(`  failed: ${message}`);
    results.skipped.push({ scenario, reason: `failed: ${message}` });
    return undefined;
  }
}

/** Time since the run started, for the log. */
const at = () => `(at ${Math.round(process.uptime())} s)`;

export async function runScenarios(ctx: BenchContext, results: BenchResults): Promise<void> {
  const { options } = ctx;
  const selected = new Set<string>(options.scenarios);
  const workloads: Workload[] = [
    { id: "one-channel", channels: 1, clients: options.clientsOneChannel },
    { id: "many-channels", channels: options.channels, clients: options.clientsManyChannels },
  ];
  const redisMissing = selected.has("redis") ? redisUnavailable() : null;
  if (redisMissing) {
    ctx.log(`[redis] skipped: ${redisMissing}`);
    results.skipped.push({ scenario: "redis", reason: redisMissing });
  }
  for (const workload of workloads) {
    for (const system of ["floor", "tailcast", "classic", "redis"] as const) {
      if (!selected.has(system) || (system === "redis" && redisMissing)) continue;
      // The floor has no channels: its readers take everything, so one workload says all it can.
      if (system === "floor" && workload.id !== "one-channel") continue;
      const who = system === "floor" ? "2 readers" : `${workload.clients} clients`;
      ctx.log(`\n[${system}] ${SYSTEM_LABELS[system]} — ${workload.id}, ${who} ${at()}`);
      let rig: Rig | undefined;
      try {
        rig = await STARTERS[system](ctx, workload);
        results.rigs.push(await measureRig(rig, options, ctx.log));
      } catch (err) {
        const message = err instanceof Error ? err.message.split("\n").slice(0, 6).join("\n") : String(err);
        ctx.log(`  failed: ${message}`);
        const failed: RigResult = {
          system,
          workload,
          idleCpu: [],
          latency: null,
          ramp: [],
          zeroLossRate: null,
          zeroLossDeliveries: null,
          notes: [],
          error: message,
        };
        results.rigs.push(failed);
      } finally {
        await rig?.stop();
      }
    }
  }
  if (selected.has("fanout")) {
    ctx.log(`\n[fanout] fan-out ceiling: bare ws vs one tailer ${at()}`);
    results.fanout = await runFanout(ctx);
  }
  if (selected.has("recovery")) {
    ctx.log(`\n[recovery] replaying k missed messages with \`since\` ${at()}`);
    results.recovery = await runRecovery(ctx);
  }
  if (selected.has("partitioned")) {
    ctx.log(
      `\n[partitioned] documents read per tailer (1 bus vs 4 with affinity by bus), publish rate for 1, 2, 4 buses ${at()}`,
    );
    results.partitioned = await orSkipped(ctx, results, "partitioned", () => runPartitioned(ctx));
  }
  if (selected.has("slow-consumer")) {
    ctx.log(
      `\n[slow-consumer] the other subscribers' latency with and without a client that stops reading ${at()}`,
    );
    results.slowConsumer = await orSkipped(ctx, results, "slow-consumer", () => runSlowConsumer(ctx));
  }
}
