/** Free ports for processes that take a run of consecutive ones (TAILCAST_METRICS_PORT in infra/build/processes.cjs). */
import { freePort, isPortFree } from "../../infra/devdb/launcher.ts";

/** The first of `count` consecutive ports free on 127.0.0.1 now (as free as freePort's: until someone binds them). */
export async function freePortRun(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const first = await freePort();
    if (first + count - 1 > 65535) continue;
    let free = true;
    for (let p = first + 1; free && p < first + count; p++) free = await isPortFree(p);
    if (free) return first;
  }
  throw new Error(`no run of ${count} free ports found`);
}
