/**
 * The slow-consumer signal on the wire (README "Slow consumers"), shared by the tailer
 * (tailer/slow-consumer.ts) and the client: the node cut the connection because it read slower than its
 * channels publish. The client reconnects with its positions and loses nothing the bus still holds.
 */
export const SLOW_CONSUMER_CODE = "slow_consumer";
/** /ws close code and reason. */
export const SLOW_CONSUMER_CLOSE_CODE = 4008;
export const SLOW_CONSUMER_CLOSE_REASON = "slow consumer";
/** Socket.IO event, `{ code: "slow_consumer", message }`, sent before the disconnect. */
export const SLOW_CONSUMER_EVENT = "tailcast:slow_consumer";
export const SLOW_CONSUMER_MESSAGE =
  "This connection read slower than its channels publish; reconnect with `since`.";
