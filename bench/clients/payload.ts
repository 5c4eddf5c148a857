/**
 * What every benchmark message carries, whatever system moves it: the step it belongs to, its channel
 * index, its number in that channel, and when the publisher sent it (wall-clock ms, shared by every
 * process on the machine). Kept short so all systems move the same small message.
 */
export interface BenchPayload {
  /** Step (one measured load period); messages from other steps or from filler are counted apart. */
  s: number;
  /** Channel index; the channel is `channelName(c)`. */
  c: number;
  /** Sequence number within the channel and step, from 0. */
  q: number;
  /** Send time, ms. */
  t: number;
  /** Padding: a chat-sized message. */
  p: string;
}

export const PADDING = "lorem ipsum dolor sit amet, consectetur adipiscing elit";

export function channelName(index: number): string {
  return `bench-${index}`;
}

export function isPayload(value: unknown): value is BenchPayload {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.s === "number" && typeof v.c === "number" && typeof v.q === "number" && typeof v.t === "number"
  );
}

/** Channel indexes of client `i` of a workload with `channels` channels: one each, round robin. */
export function channelsOf(clientIndex: number, channels: number): number[] {
  return [clientIndex % channels];
}
