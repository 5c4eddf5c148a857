import { describe, expect, it } from "vitest";
import { recordingServerErrors } from "../../functions/heartbeat.ts";

describe("recordingServerErrors (the ingest process's last error on the status page)", () => {
  it("remembers the last 5xx answer, not 4xx ones, and hands the server's bindings on", async () => {
    const seen: unknown[][] = [];
    const statuses = [201, 503, 400, 500, 201];
    const app = async (request: Request, ...rest: unknown[]) => {
      seen.push([request.url, ...rest]);
      return new Response(null, { status: statuses.shift() ?? 200 });
    };
    const served = recordingServerErrors(app);
    const call = (method: string, path: string) =>
      served.fetch(new Request(`http://h${path}?q=secret`, { method }), { incoming: "x" } as never);

    await call("POST", "/v1/channels/a/messages");
    expect(served.lastError()).toBeNull();
    await call("POST", "/v1/messages");
    expect(served.lastError()?.message).toBe("503 on POST /v1/messages");
    await call("GET", "/v1/channels/a/messages");
    expect(served.lastError()?.message).toBe("503 on POST /v1/messages");
    await call("GET", "/readyz");
    expect(served.lastError()).toMatchObject({ message: "500 on GET /readyz", at: expect.any(Date) });
    expect(seen[0]).toEqual(["http://h/v1/channels/a/messages?q=secret", { incoming: "x" }]);
  });
});
