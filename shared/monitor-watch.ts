/**
 * Notices a MongoDB driver whose server monitor stopped checking (README "Known issues", "A driver
 * that stops checking a server"): every check the driver starts ends in a success or a failure within
 * its own timeouts, so a check still open long past them means the monitor is stuck, and the client's
 * view of that server will never change again. Pure: the caller feeds it the driver's heartbeat
 * events and a clock.
 */

export class MonitorWatch {
  /** Server address → when its open check started. */
  readonly #open = new Map<string, number>();

  started(address: string, now: number): void {
    this.#open.set(address, now);
  }

  /** A check ended (success or failure), or the server left the topology. */
  ended(address: string): void {
    this.#open.delete(address);
  }

  /** The servers whose check has been open for longer than `limitMs`. */
  stuck(now: number, limitMs: number): string[] {
    return [...this.#open].filter(([, since]) => now - since > limitMs).map(([address]) => address);
  }
}

/**
 * How long a check may stay open before the monitor counts as stuck: an awaited check (the streaming
 * protocol) answers within `heartbeatFrequencyMS` and is timed out at that plus `connectTimeoutMS`; a
 * polled one at `connectTimeoutMS`. One more `connectTimeoutMS` covers a reconnect inside the check.
 * Undefined when the socket timeout is off (connectTimeoutMS 0): then a check may wait forever by choice.
 */
export function stuckCheckLimitMs(
  heartbeatFrequencyMS: number,
  connectTimeoutMS: number,
): number | undefined {
  return connectTimeoutMS > 0 ? heartbeatFrequencyMS + 2 * connectTimeoutMS : undefined;
}
