/**
 * Which bus a channel lives in, when the bus is partitioned (README "Scaling out"). Every channel lives
 * in exactly one bus, chosen from its name alone, so every ingest instance and every tailer agree
 * without talking to each other. Jump consistent hash (Lamping & Veach, "A Fast, Minimal Memory,
 * Consistent Hash Algorithm", 2014): growing from n to n+1 buses moves only about 1/(n+1) of the
 * channels, all of them to the new bus. Pure: no I/O, no clock.
 */

const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const MASK_64 = (1n << 64n) - 1n;
const encoder = new TextEncoder();

/** FNV-1a, 64-bit, over the channel name's UTF-8 bytes: stable across processes, versions and hosts. */
export function channelKey(channel: string): bigint {
  let h = FNV_OFFSET;
  for (const byte of encoder.encode(channel)) {
    h ^= BigInt(byte);
    h = (h * FNV_PRIME) & MASK_64;
  }
  return h;
}

const JUMP_MULTIPLIER = 2862933555777941757n;

/** The bucket in [0, buckets) of a 64-bit key; the reference algorithm, in 64-bit arithmetic. */
export function jumpHash(key: bigint, buckets: number): number {
  if (!Number.isInteger(buckets) || buckets < 1) throw new RangeError("buckets must be a positive integer");
  let k = key & MASK_64;
  let b = -1;
  let j = 0;
  while (j < buckets) {
    b = j;
    k = (k * JUMP_MULTIPLIER + 1n) & MASK_64;
    j = Math.floor((b + 1) * (2 ** 31 / (Number(k >> 33n) + 1)));
  }
  return b;
}

/** The index of the bus `channel` lives in, among `buses` (0 when there is one: today's single bus). */
export function busIndexOf(channel: string, buses: number): number {
  return buses === 1 ? 0 : jumpHash(channelKey(channel), buses);
}

/**
 * The collection name of bus `index`: bus 0 keeps the configured name (a single-bus deployment and its
 * data are unchanged), the others add `_<index>`.
 */
export function busCollectionName(base: string, index: number): string {
  return index === 0 ? base : `${base}_${index}`;
}
