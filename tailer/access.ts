/**
 * What one subscriber connection may do, for both transports: the token it connected with, the
 * channels it holds, when its token runs out, and replacing the token (`refresh`) before that.
 */
import { authorizeChannel } from "../shared/auth/channel-patterns.ts";
import type { Subscriber, TokenVerifier } from "../shared/auth/jwt.ts";
import { ErrorCode, TailcastError } from "../shared/errors.ts";

// setTimeout holds at most 2^31-1 ms; a later expiry is re-checked when that timer fires.
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface AccessOptions {
  verifier: TokenVerifier | "off";
  maxSubscriptions: number;
  /** Called once when the token expires without a refresh. */
  onExpired: () => void;
}

export class ConnectionAccess {
  readonly #options: AccessOptions;
  #subscriber: Subscriber | null;
  #timer: NodeJS.Timeout | undefined;
  readonly channels = new Set<string>();

  private constructor(subscriber: Subscriber | null, options: AccessOptions) {
    this.#subscriber = subscriber;
    this.#options = options;
    this.#schedule();
  }

  /** Verifies the connect-time token; throws `unauthorized` (auth off: everyone may connect). */
  static async open(token: unknown, options: AccessOptions): Promise<ConnectionAccess> {
    const subscriber = options.verifier === "off" ? null : await options.verifier.verify(token);
    // Accepted within the clock tolerance but already past `exp`: refuse now rather than cut it at once.
    if (subscriber && subscriber.expiresAt <= Date.now()) throw tokenExpired();
    return new ConnectionAccess(subscriber, options);
  }

  get subject(): string | null {
    return this.#subscriber?.sub ?? null;
  }

  /**
   * Throws `forbidden` outside the token's channels, `invalid_request` past the subscription limit.
   * `held` is every channel the connection holds or is still subscribing to (a replay in flight), so
   * subscribes sent back to back cannot all pass the limit before any of them joins.
   */
  admit(channel: string, held: { has(channel: string): boolean; readonly size: number }): void {
    this.authorize(channel);
    if (!held.has(channel) && held.size >= this.#options.maxSubscriptions) {
      throw new TailcastError(
        ErrorCode.invalidRequest,
        `A connection may hold at most ${this.#options.maxSubscriptions} subscriptions.`,
      );
    }
  }

  /** Throws `forbidden` unless the current token allows subscribing to `channel`. */
  authorize(channel: string): void {
    if (this.#subscriber) authorizeChannel(this.#subscriber, channel, "subscribe");
  }

  /** Does the current token (the latest refresh) allow `channel`? */
  allows(channel: string): boolean {
    return this.#subscriber === null || this.#subscriber.channels.allows(channel);
  }

  /**
   * Replaces the token. It must name the same subject; channels the new token no longer allows are
   * returned so the transport can drop them.
   */
  async refresh(token: unknown): Promise<{ expiresAt: number | null; revoked: string[] }> {
    if (this.#options.verifier === "off") return { expiresAt: null, revoked: [] };
    const next = await this.#options.verifier.verify(token);
    if (this.#subscriber && next.sub !== this.#subscriber.sub) {
      throw new TailcastError(ErrorCode.forbidden, "A refreshed token must be for the same subject.");
    }
    this.#subscriber = next;
    this.#schedule();
    const revoked = [...this.channels].filter((ch) => !next.channels.allows(ch));
    for (const ch of revoked) this.channels.delete(ch);
    return { expiresAt: next.expiresAt, revoked };
  }

  close(): void {
    clearTimeout(this.#timer);
  }

  #schedule(): void {
    clearTimeout(this.#timer);
    const subscriber = this.#subscriber;
    if (!subscriber) return;
    const wait = subscriber.expiresAt - Date.now();
    if (wait <= 0) {
      this.#options.onExpired();
      return;
    }
    this.#timer = setTimeout(() => this.#schedule(), Math.min(wait, MAX_TIMER_MS));
    this.#timer.unref();
  }
}

export const tokenExpired = () =>
  new TailcastError(ErrorCode.tokenExpired, "The token expired; connect again with a new one.");

/**
 * Browsers send `Origin`; other clients don't. With TAILCAST_ALLOWED_ORIGINS set, a browser page from
 * another origin may not open a connection (Socket.IO's CORS covers only its polling transport).
 */
export function originAllowed(origin: string | undefined, allowed: readonly string[]): boolean {
  return allowed.length === 0 || origin === undefined || allowed.includes("*") || allowed.includes(origin);
}
