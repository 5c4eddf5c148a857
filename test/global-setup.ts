/**
 * Starts the database once for the run: MONGODB_URI if set (real MongoDB), else mongod on PATH, else
 * the FerretDB the project builds (infra/devdb). Test files get its URI through `inject("mongodbUri")`.
 */
import type { TestProject } from "vitest/node";
import { startDevDb } from "../infra/devdb/launcher.ts";

declare module "vitest" {
  export interface ProvidedContext {
    mongodbUri: string;
    /** "external" when MONGODB_URI points at a real MongoDB. */
    databaseKind: string;
    /** The FerretDB this project builds with its patches (infra/devdb/ferretdb/README.md). */
    patchedFerretDB: boolean;
  }
}

export default async function setup(project: TestProject) {
  const db = await startDevDb();
  project.provide("mongodbUri", db.uri);
  project.provide("databaseKind", db.kind);
  project.provide("patchedFerretDB", db.patchedFerretDB);
  return () => db.stop();
}
