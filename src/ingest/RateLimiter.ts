/**
 * Per-gateway token bucket (units per second: events, or bytes of bodies; one second's worth is
 * the burst). A request may overdraw a bucket that is not empty — a big batch is not refused
 * forever — and the debt is what `Retry-After` is computed from.
 */
export interface RateDecision {
  readonly allowed: boolean
  readonly retryAfterSeconds: number
}

export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>()

  constructor(private readonly maxGateways = 100_000) {}

  take(gatewayId: string, units: number, ratePerSec: number, nowMs: number): RateDecision {
    const capacity = ratePerSec
    const bucket = this.buckets.get(gatewayId) ?? { tokens: capacity, at: nowMs }
    bucket.tokens = Math.min(capacity, bucket.tokens + ((nowMs - bucket.at) / 1000) * ratePerSec)
    bucket.at = nowMs
    if (!this.buckets.has(gatewayId)) {
      if (this.buckets.size >= this.maxGateways) this.buckets.delete(this.buckets.keys().next().value ?? "")
      this.buckets.set(gatewayId, bucket)
    }
    if (bucket.tokens <= 0) {
      return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(-bucket.tokens / ratePerSec)) }
    }
    bucket.tokens -= units
    return { allowed: true, retryAfterSeconds: 0 }
  }
}
