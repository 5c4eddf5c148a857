/**
 * A full garbage collection in another Node process, through its inspector (the process was started with
 * `--inspect=127.0.0.1:<port>`): `HeapProfiler.collectGarbage` over the DevTools protocol. Memory per
 * connection is then read from a heap with no garbage in it, instead of from whenever V8 last collected.
 */
import { WebSocket } from "ws";

export async function collectGarbage(inspectorPort: number): Promise<void> {
  const targets = (await (await fetch(`http://127.0.0.1:${inspectorPort}/json/list`)).json()) as Array<{
    webSocketDebuggerUrl?: string;
  }>;
  const url = targets[0]?.webSocketDebuggerUrl;
  if (url === undefined) throw new Error(`no inspector target on port ${inspectorPort}`);
  const ws = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("collectGarbage: no answer within 30 s")), 30_000);
      ws.on("message", (raw) => {
        const reply = JSON.parse(String(raw)) as { id?: number; error?: { message: string } };
        if (reply.id !== 1) return;
        clearTimeout(timer);
        if (reply.error) reject(new Error(`collectGarbage: ${reply.error.message}`));
        else resolve();
      });
      ws.send(JSON.stringify({ id: 1, method: "HeapProfiler.collectGarbage" }));
    });
  } finally {
    ws.close();
  }
}
