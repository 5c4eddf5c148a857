/** Choosing the node to (re)connect to, and the URL each transport needs. Pure. */
import { busIndexOf, channelKey, jumpHash } from "../shared/bus/partition.ts";

/** `ordered`: the first URL first (a page served by a node prefers that node), then round-robin. */
export type PickUrl = "round-robin" | "random" | "ordered";

/**
 * Returns a function giving the next URL to try. Round-robin starts at a random index so clients
 * spread over the nodes; random never picks the URL just tried when there is another, so a dead node
 * is left on the next attempt either way.
 */
export function urlPicker(urls: readonly string[], mode: PickUrl, random: () => number = Math.random) {
  if (urls.length === 0) throw new TypeError("tailcast client: `urls` must list at least one node URL.");
  const n = urls.length;
  let index = mode === "ordered" ? 0 : Math.floor(random() * n) % n;
  let first = true;
  return (): string => {
    if (first) {
      first = false;
    } else if (mode !== "random" || n === 1) {
      index = (index + 1) % n;
    } else {
      index = (index + 1 + (Math.floor(random() * (n - 1)) % (n - 1))) % n;
    }
    return urls[index] as string;
  };
}

/** The query parameter that carries the affinity channel: the load balancer hashes it (README "Tail on demand and affinity"). */
export const AFFINITY_PARAM = "channel";

/**
 * `url` with the affinity channel as the `channel` query parameter, so a load balancer that hashes it
 * (HAProxy `balance url_param channel`, infra/lb/haproxy.cfg) sends every client of a channel to the
 * same node. Kept by both transports: wsUrl keeps the query, socket.io-client sends it with its handshake.
 */
export function withAffinity(url: string, channel: string | undefined): string {
  if (channel === undefined) return url;
  const u = new URL(url);
  u.searchParams.set(AFFINITY_PARAM, channel);
  return u.toString();
}

/** Most tailers one bus's channels may be spread over with busAffinity. */
export const MAX_AFFINITY_SPREAD = 1024;
/** Decorrelates the spread from the bus choice, which hashes the same key (shared/bus/partition.ts). */
const SPREAD_SALT = 0x9e3779b97f4a7c15n;

/**
 * An affinity key that groups channels by bus instead of by name: `bus-<i>`, where i is the bus the
 * channel lives in among `buses` (TAILCAST_BUSES). Clients of every channel of one bus then share a
 * tailer, which tails that bus alone — at the price of coarser balancing (one key per bus). With
 * `spread` k > 1 the key is `bus-<i>-<j>`, j a second hash of the channel below k: a bus's channels go
 * to up to k tailers (each reading that whole bus), so a fleet of more tailers than buses still gets
 * keys for all of them (README "Tail on demand and affinity").
 */
export function busAffinity(channel: string, buses: number, spread = 1): string {
  if (!Number.isInteger(spread) || spread < 1 || spread > MAX_AFFINITY_SPREAD) {
    throw new RangeError(`busAffinity: spread must be an integer from 1 to ${MAX_AFFINITY_SPREAD}`);
  }
  const bus = `bus-${busIndexOf(channel, buses)}`;
  return spread === 1 ? bus : `${bus}-${jumpHash(channelKey(channel) ^ SPREAD_SALT, spread)}`;
}

/** The /ws endpoint of a node: `http(s)://host[/base]` → `ws(s)://host[/base]/ws`; a ws(s) URL is kept as given. */
export function wsUrl(url: string, token?: string): string {
  const u = new URL(url);
  if (u.protocol === "http:" || u.protocol === "https:") {
    u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
    u.pathname = `${u.pathname.replace(/\/+$/, "")}/ws`;
  } else if (u.protocol !== "ws:" && u.protocol !== "wss:") {
    throw new TypeError(`tailcast client: unsupported URL ${url}`);
  }
  if (token !== undefined) u.searchParams.set("token", token);
  return u.toString();
}
