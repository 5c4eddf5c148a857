/**
 * tailcast client (`tailcast/client`): subscribe to channels on a fleet of tailer nodes over /ws or
 * Socket.IO, with automatic failover and resume. Runs in browsers and Node; see {@link createClient}.
 */
export { createClient, defaultClientOptions } from "./client.ts";
export { afterAck, isDuplicate } from "./positions.ts";
export { RequestRefused } from "./transport.ts";
export type {
  Client,
  ClientError,
  ClientEvents,
  ClientOptions,
  ConnectionState,
  Envelope,
  Gap,
  MessageHandler,
  Position,
  Presence,
  PresenceUpdate,
  Subscribed,
  SubscribeOptions,
  Subscription,
  TokenSource,
  TransportName,
} from "./types.ts";
export { busAffinity } from "./urls.ts";
