/**
 * `npx tsx infra/devdb/ferretdb/update-checks.ts`: checks what patches 0004–0006 change (README.md in
 * this directory) on the dev FerretDB, or on `TAILCAST_FERRETDB_BIN` to see an unpatched binary fail:
 * a find by `_id` is planned as an index search, one `updateOne({_id})` among 40,000 documents takes
 * milliseconds, one bulkWrite of 150 matched `updateOne`s (one `update` command) completes, and one
 * `deleteMany` removes all 40,000 documents. Prints each check and exits 1 if one fails.
 */
import { MongoClient } from "mongodb";
import { startFerretDB } from "../launcher.ts";

const DOCS = 40_000;
const MATCHED_UPDATES = 150;
/** The unpatched server never answers the 150-update command; the client gives up after this. */
const DEADLINE_MS = 15_000;

const say = (line: string) => process.stdout.write(`${line}\n`);
const devdb = await startFerretDB({ log: (l) => say(`[devdb] ${l}`) });
const client = new MongoClient(devdb.uri, { directConnection: true, socketTimeoutMS: DEADLINE_MS });
let failed = 0;
const check = (ok: boolean, line: string) => {
  if (!ok) failed++;
  say(`${ok ? "ok  " : "FAIL"} ${line}`);
};
try {
  const db = client.db("ferretdb_update_checks");
  await db.dropDatabase();
  const docs = db.collection<{ _id: string; n: number }>("docs");
  await docs.insertMany(Array.from({ length: DOCS }, (_, i) => ({ _id: `doc-${i}`, n: 0 })));

  const explained = await db.command({ explain: { find: "docs", filter: { _id: "doc-7" } } });
  const plan = JSON.stringify(explained.queryPlanner?.Plan ?? explained.queryPlanner);
  check(/USING INDEX/.test(plan), `find({_id}) plan: ${plan}`);

  let started = performance.now();
  await docs.updateOne({ _id: "doc-7" }, { $set: { n: 1 } });
  const oneMs = performance.now() - started;
  check(oneMs < 100, `one updateOne({_id}) among ${DOCS} documents: ${oneMs.toFixed(1)} ms`);

  started = performance.now();
  const outcome = await docs
    .bulkWrite(
      Array.from({ length: MATCHED_UPDATES }, (_, i) => ({
        updateOne: { filter: { _id: `doc-${i}` }, update: { $set: { n: 2 } } },
      })),
      { ordered: false },
    )
    .then(
      (r) => `${r.matchedCount} matched`,
      (err: Error) => `failed: ${err.message}`,
    );
  const bulkMs = performance.now() - started;
  check(
    outcome === `${MATCHED_UPDATES} matched`,
    `bulkWrite of ${MATCHED_UPDATES} matched updateOne: ${outcome} in ${bulkMs.toFixed(0)} ms`,
  );

  started = performance.now();
  const removed = await docs.deleteMany({}).then(
    (r) => `${r.deletedCount} deleted`,
    (err: Error) => `failed: ${err.message}`,
  );
  check(
    removed === `${DOCS} deleted`,
    `deleteMany of ${DOCS} documents: ${removed} in ${(performance.now() - started).toFixed(0)} ms`,
  );
} finally {
  await client.close(true);
  await devdb.stop();
}
process.exitCode = failed > 0 ? 1 : 0;
