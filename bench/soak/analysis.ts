/**
 * The soak's verdicts (pure): a least-squares slope over the samples after warm-up, whether a series is
 * flat, and the per-client delivery totals. What "flat" means is written here once, and printed with
 * every verdict (README "Soak").
 */

export interface Point {
  /** Minutes since the run started. */
  x: number;
  y: number;
}

/** Least-squares slope of y over x; null with fewer than two distinct x. */
export function slope(points: readonly Point[]): number | null {
  const n = points.length;
  if (n < 2) return null;
  let sx = 0;
  let sy = 0;
  for (const p of points) {
    sx += p.x;
    sy += p.y;
  }
  const mx = sx / n;
  const my = sy / n;
  let sxy = 0;
  let sxx = 0;
  for (const p of points) {
    sxy += (p.x - mx) * (p.y - my);
    sxx += (p.x - mx) ** 2;
  }
  return sxx === 0 ? null : sxy / sxx;
}

export interface Flatness {
  /** Change per minute, in the series' unit; null when there were too few points after warm-up. */
  slopePerMinute: number | null;
  /** Mean after warm-up. */
  mean: number;
  /** What the slope adds up to over the measured span (minutes after warm-up). */
  drift: number | null;
  /** Largest drift still called flat. */
  allowed: number;
  flat: boolean | null;
}

/**
 * A series is flat when the trend fitted after warm-up adds up, over the measured span, to no more than
 * `relative` of its mean (or `absolute`, when that is larger: a series near zero is flat within noise).
 * Only growth counts against it: memory returned or latency that fell is not a leak.
 */
export function flatness(
  points: readonly Point[],
  warmupMinutes: number,
  relative: number,
  absolute: number,
): Flatness {
  const after = points.filter((p) => p.x >= warmupMinutes);
  const mean = after.length === 0 ? Number.NaN : after.reduce((s, p) => s + p.y, 0) / after.length;
  const allowed = Math.max(relative * (Number.isFinite(mean) ? mean : 0), absolute);
  const s = slope(after);
  if (s === null) return { slopePerMinute: null, mean, drift: null, allowed, flat: null };
  const xs = after.map((p) => p.x);
  const span = Math.max(...xs) - Math.min(...xs);
  const drift = s * span;
  return { slopePerMinute: s, mean, drift, allowed, flat: drift <= allowed };
}

/** What one client got over the whole run. */
export interface ClientTotals {
  name: string;
  kind: "reader" | "slow" | "reconnecting";
  /** Acknowledged messages of its channels. */
  expected: number;
  /** Distinct ones it got. */
  delivered: number;
  duplicates: number;
  disorders: number;
  /** Connections it made after the first (the TypeScript clients). */
  reconnects: number;
  /** Times the node cut it as a slow consumer. */
  slowConsumerCuts: number;
  /** `gap` events (messages the client was told it lost). */
  gaps: number;
}

export interface DeliveryVerdict {
  clients: number;
  lost: number;
  duplicates: number;
  disorders: number;
  /** Clients with any loss, duplicate or disorder, worst first (at most 20). */
  faulty: ClientTotals[];
  clean: boolean;
}

export function deliveryVerdict(clients: readonly ClientTotals[]): DeliveryVerdict {
  let lost = 0;
  let duplicates = 0;
  let disorders = 0;
  const faulty: ClientTotals[] = [];
  for (const c of clients) {
    const l = c.expected - c.delivered;
    lost += l;
    duplicates += c.duplicates;
    disorders += c.disorders;
    if (l > 0 || c.duplicates > 0 || c.disorders > 0) faulty.push(c);
  }
  const badness = (c: ClientTotals) => c.expected - c.delivered + c.duplicates + c.disorders;
  faulty.sort((a, b) => badness(b) - badness(a));
  return {
    clients: clients.length,
    lost,
    duplicates,
    disorders,
    faulty: faulty.slice(0, 20),
    clean: lost === 0 && duplicates === 0 && disorders === 0,
  };
}

/** Whether the machine took the asked rate: a soak at a lower rate says nothing of the asked one. */
export interface RateVerdict {
  target: number;
  /** Lowest and highest achieved rate of the intervals after warm-up. */
  min: number;
  max: number;
  /** Every interval after warm-up at `share` of the target or more. */
  held: boolean;
}

export function rateVerdict(
  intervals: readonly { endMinute: number; achievedRate: number }[],
  target: number,
  warmupMinutes: number,
  share = 0.95,
): RateVerdict {
  const rates = intervals.filter((i) => i.endMinute > warmupMinutes).map((i) => i.achievedRate);
  if (rates.length === 0) return { target, min: Number.NaN, max: Number.NaN, held: false };
  const min = Math.min(...rates);
  return { target, min, max: Math.max(...rates), held: min >= share * target };
}
