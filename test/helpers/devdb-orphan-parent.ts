// Child process for test/integration/devdb.test.ts: starts FerretDB in the data dir given as argv[2], prints
// `{"parent":<pid>,"server":<pid>}` and idles until killed. The test SIGKILLs it and checks that the
// server dies too (setpriv --pdeathsig), since no 'exit' handler runs on SIGKILL.
import { startFerretDB } from "../../infra/devdb/launcher.ts";

const dir = process.argv[2];
if (!dir) throw new Error("usage: devdb-orphan-parent.ts <data dir>");
const db = await startFerretDB({ dir, log: () => {} });
process.stdout.write(`${JSON.stringify({ parent: process.pid, server: db.pid })}\n`);
setInterval(() => {}, 60_000);
