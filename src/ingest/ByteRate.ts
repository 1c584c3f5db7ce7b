/**
 * A gateway's bytes of request bodies per second (after decompression): a token bucket per
 * gateway (RateLimiter.ts), at the gateway's own `rate_limit_bytes_per_sec` or the server's
 * `INGEST_RATE_LIMIT_BYTES_PER_SEC`. The event rate alone let a gateway of a few very large
 * events take everyone's parsing, journal and database time.
 *
 * Three moments: before a body is read, a gateway still owing is refused (`owes`); once decoded,
 * the body's bytes are taken (`take`); a body refused for its size, or because it would not
 * decompress, is charged for what it cost (`chargeRefused`), the answer staying its own.
 */
import type { GatewayIdentity } from "./GatewayAuth.js"
import { type RateDecision, RateLimiter } from "./RateLimiter.js"
import type { RequestProblem } from "./Decode.js"

export class ByteRate {
  private readonly buckets = new RateLimiter()

  constructor(private readonly limits: { readonly bytesPerSec: number; readonly maxBodyBytes: number; readonly maxDecompressedBytes: number }) {}

  rateOf(gateway: GatewayIdentity): number {
    return gateway.rateLimitBytesPerSec ?? this.limits.bytesPerSec
  }

  /** Refused while the gateway's bucket is in debt, whatever this request's size. */
  owes(gateway: GatewayIdentity, nowMs: number): RateDecision {
    return this.buckets.take(gateway.id, 0, this.rateOf(gateway), nowMs)
  }

  take(gateway: GatewayIdentity, bytes: number, nowMs: number): RateDecision {
    return this.buckets.take(gateway.id, bytes, this.rateOf(gateway), nowMs)
  }

  /**
   * What a refused body cost: a body over `INGEST_MAX_BODY_BYTES` was read up to it (not charged
   * to a signing gateway: nothing proves the request is its own, and a leaked key alone must not
   * lock it out); one that inflated past `INGEST_MAX_DECOMPRESSED_BYTES`, that much (an outside
   * probe inflated 3.2 GB in 15 s from 25 KB gzip bodies without a 429); one that is not gzip,
   * its own bytes; an unknown encoding, nothing.
   */
  chargeRefused(gateway: GatewayIdentity, problem: RequestProblem, stage: "read" | "decode", rawBytes: number, nowMs: number): void {
    const bytes = problem.status === 413
      ? (stage === "decode" ? this.limits.maxDecompressedBytes : gateway.signingSecret === null ? this.limits.maxBodyBytes : 0)
      : stage === "decode" && problem.status === 400
      ? rawBytes
      : 0
    if (bytes > 0) this.buckets.take(gateway.id, bytes, this.rateOf(gateway), nowMs)
  }

  /** The refusal's message: which limit applied. */
  message(gateway: GatewayIdentity): string {
    return `gateway ${gateway.id} exceeded its byte rate (${this.rateOf(gateway)} bytes of bodies per second: ${
      gateway.rateLimitBytesPerSec === null ? "INGEST_RATE_LIMIT_BYTES_PER_SEC" : "its rate_limit_bytes_per_sec"})`
  }
}
