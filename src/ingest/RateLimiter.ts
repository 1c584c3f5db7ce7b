/**
 * Per-gateway token bucket (events per second). A request may overdraw a full bucket — a big
 * batch is not refused forever — and the debt is what `Retry-After` is computed from.
 */
export interface RateDecision {
  readonly allowed: boolean
  readonly retryAfterSeconds: number
}

export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>()

  constructor(private readonly maxGateways = 100_000) {}

  take(gatewayId: string, events: number, ratePerSec: number, nowMs: number): RateDecision {
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
    bucket.tokens -= events
    return { allowed: true, retryAfterSeconds: 0 }
  }
}
