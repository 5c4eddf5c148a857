/**
 * The slow client of the slow-consumer scenario (bench/scenarios/slow-consumer.ts). It subscribes to one
 * channel and stops reading at once: its socket is paused the way `ws` pauses one, so the kernel's
 * buffers fill, then the node's (README "Slow consumers"). Told that the node cut it (`resume`), it reads
 * again — so it gets what was queued and then the signal — and connects again on the other transport,
 * pausing again: the node has a client that does not read on the channel for the whole phase, and both
 * transports' bounds are exercised.
 *
 * It subscribes without `since`: nothing is replayed to it, so the phase measures a client that does not
 * read, not a replay. The TypeScript client's resume after a cut is checked, on both transports, by
 * test/integration/slow-consumer.test.ts.
 */
import { io } from "socket.io-client";
import { WebSocket } from "ws";
import { SLOW_CONSUMER_CLOSE_CODE, SLOW_CONSUMER_EVENT } from "../../shared/protocol/slow-consumer.ts";
import { childConfig, serve } from "../child.ts";

export interface SlowClientConfig {
  /** The tailer's HTTP URL. */
  url: string;
  channel: string;
}

export type SlowTransport = "ws" | "socket.io";

export interface SlowClientReport {
  /** Connections opened and subscribed. */
  connections: number;
  /** Cuts it was told of: /ws close 4008, Socket.IO `tailcast:slow_consumer`. */
  signalled: { ws: number; socketIo: number };
  /** Connections that ended without the signal (terminated before it read again). */
  otherEnds: number;
  errors: string[];
}

interface Paused {
  transport: SlowTransport;
  /** Reads again. */
  resume(): void;
  /** Resolves when the connection has ended; true if the node's slow-consumer signal came first. */
  ended: Promise<boolean>;
  terminate(): void;
}

const config = childConfig<SlowClientConfig>();
/** Between a cut and the next connection, as a client's first reconnect delay. */
const RECONNECT_MS = 100;
const TIMEOUT_MS = 10_000;

const fresh = (): SlowClientReport => ({
  connections: 0,
  signalled: { ws: 0, socketIo: 0 },
  otherEnds: 0,
  errors: [],
});
/** Since the last `start`. */
let report = fresh();
let running = false;
let current: Paused | null = null;
let loop: Promise<void> = Promise.resolve();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function withTimeout<T>(what: string, promise: Promise<T>): Promise<T> {
  return Promise.race([
    promise,
    sleep(TIMEOUT_MS).then(() => Promise.reject(new Error(`${what}: no answer in ${TIMEOUT_MS} ms`))),
  ]);
}

/** A /ws subscriber, paused once subscribed. */
async function pausedWs(): Promise<Paused> {
  const ws = new WebSocket(`${config.url.replace(/^http/, "ws")}/ws`);
  const ended = new Promise<boolean>((resolve) =>
    ws.once("close", (code) => resolve(code === SLOW_CONSUMER_CLOSE_CODE)),
  );
  ws.on("error", () => {});
  const subscribed = withTimeout(
    "/ws subscribe",
    new Promise<void>((resolve, reject) => {
      ws.once("open", () => ws.send(JSON.stringify({ type: "subscribe", id: 1, channel: config.channel })));
      // Only the replies are read: once paused, what arrives is never parsed.
      const onMessage = (data: unknown) => {
        const frame = JSON.parse(String(data)) as { type: string; id?: number };
        if (frame.id !== 1) return;
        ws.off("message", onMessage);
        if (frame.type === "subscribed") resolve();
        else reject(new Error(`/ws subscribe refused: ${String(data)}`));
      };
      ws.on("message", onMessage);
      ws.once("close", () => reject(new Error("/ws closed before subscribing")));
    }),
  );
  await subscribed.catch((err: unknown) => {
    ws.terminate();
    throw err;
  });
  ws.pause();
  return { transport: "ws", resume: () => ws.resume(), ended, terminate: () => ws.terminate() };
}

/** A Socket.IO subscriber (websocket transport), its `ws` socket paused once subscribed. */
async function pausedSocketIo(): Promise<Paused> {
  const socket = io(config.url, { transports: ["websocket"], reconnection: false, forceNew: true });
  let signalled = false;
  socket.on(SLOW_CONSUMER_EVENT, () => {
    signalled = true;
  });
  const ended = new Promise<boolean>((resolve) => socket.once("disconnect", () => resolve(signalled)));
  try {
    await withTimeout(
      "Socket.IO connect",
      new Promise<void>((resolve, reject) => {
        socket.once("connect", () => resolve());
        socket.once("connect_error", reject);
      }),
    );
    const ack = (await socket.timeout(TIMEOUT_MS).emitWithAck("subscribe", { channel: config.channel })) as {
      ok: boolean;
    };
    if (!ack.ok) throw new Error(`Socket.IO subscribe refused: ${JSON.stringify(ack)}`);
  } catch (err) {
    socket.close();
    throw err;
  }
  // engine.io-client's websocket transport on Node is a `ws` socket.
  const ws = (socket.io.engine as unknown as { transport: { ws: WebSocket } }).transport.ws;
  ws.pause();
  return {
    transport: "socket.io",
    resume: () => ws.resume(),
    ended,
    terminate: () => {
      ws.terminate();
      socket.close();
    },
  };
}

async function cycle(): Promise<void> {
  for (let n = 0; running; n++) {
    const transport: SlowTransport = n % 2 === 0 ? "ws" : "socket.io";
    try {
      current = await (transport === "ws" ? pausedWs() : pausedSocketIo());
    } catch (err) {
      if (report.errors.length < 5) report.errors.push(err instanceof Error ? err.message : String(err));
      await sleep(RECONNECT_MS);
      continue;
    }
    report.connections++;
    if (!running) current.terminate();
    const signalled = await current.ended;
    current = null;
    if (!running) break; // ended by `stop`, not by the node
    if (!signalled) report.otherEnds++;
    else if (transport === "ws") report.signalled.ws++;
    else report.signalled.socketIo++;
    if (running) await sleep(RECONNECT_MS);
  }
}

serve(
  {
    start: () => {
      report = fresh();
      running = true;
      loop = cycle();
      return null;
    },
    /** The node cut the connection on `transport` (the runner saw it in /stats): read again. */
    resume: ({ transport }: { transport: SlowTransport }) => {
      if (current?.transport === transport) current.resume();
      return null;
    },
    /** Stops, and says what happened since `start`. */
    stop: async (): Promise<SlowClientReport> => {
      running = false;
      current?.terminate();
      await loop;
      return report;
    },
  },
  () => {
    running = false;
    current?.terminate();
  },
);
