/** The machine and database a run measured, for the report. */
import { availableParallelism, cpus, totalmem } from "node:os";
import type { DevDb } from "../infra/devdb/launcher.ts";
import type { MachineInfo } from "./results.ts";
import { withMongo } from "./scenarios/common.ts";

export async function machineInfo(db: DevDb): Promise<MachineInfo> {
  const info = await withMongo(db.uri, (c) => c.db("admin").command({ buildInfo: 1 })).catch(() => ({}));
  const { version, ferretdbVersion } = info as { version?: string; ferretdbVersion?: string };
  const database = ferretdbVersion
    ? `FerretDB ${ferretdbVersion} (SQLite backend)`
    : `MongoDB ${version ?? "(version unknown)"}${db.kind === "external" ? " (MONGODB_URI)" : ""}`;
  return {
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model ?? "unknown",
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    database,
    databaseKind: db.kind,
    ...(db.kind === "ferretdb" && process.env.TAILCAST_FERRETDB_BIN
      ? { ferretdbBin: process.env.TAILCAST_FERRETDB_BIN }
      : {}),
  };
}
