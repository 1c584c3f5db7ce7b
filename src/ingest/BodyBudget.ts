/**
 * Bytes of ingest request bodies held at once, in total, per vendor and per gateway. A request reserves its
 * declared `Content-Length` before reading (a chunked one reserves as its chunks arrive) and
 * gives it back when it is answered; a reservation past either limit is refused (503, retry
 * shortly). Without it, a gateway that opened hundreds of requests and never finished their
 * bodies held gigabytes (300 unfinished 4.9 MB bodies: 1.6 GB) — for every tenant's receiver.
 */
export interface BodyBudgetLimits {
  /** All gateways together. */
  readonly total: number
  /** One gateway. */
  readonly perGateway: number
  /**
   * One vendor's gateways together (default: all of `total`). Without it, a vendor with four
   * gateways held the whole default total (4 × 32 MiB) and every other tenant got 503.
   */
  readonly perVendor?: number
}

export interface BodyHold {
  readonly take: (bytes: number) => boolean
  readonly release: () => void
}

const add = (counts: Map<string, number>, key: string, bytes: number): void => {
  const next = (counts.get(key) ?? 0) + bytes
  if (next <= 0) counts.delete(key)
  else counts.set(key, next)
}

export class BodyBudget {
  private held = 0
  private readonly byGateway = new Map<string, number>()
  private readonly byVendor = new Map<string, number>()

  constructor(private readonly limits: BodyBudgetLimits) {}

  /** Takes `bytes` for `gateway` (of `vendor`) if every limit allows it. */
  reserve(gateway: string, vendor: string, bytes: number): boolean {
    if (
      this.held + bytes > this.limits.total ||
      (this.byGateway.get(gateway) ?? 0) + bytes > this.limits.perGateway ||
      (this.byVendor.get(vendor) ?? 0) + bytes > (this.limits.perVendor ?? this.limits.total)
    ) return false
    this.held += bytes
    add(this.byGateway, gateway, bytes)
    add(this.byVendor, vendor, bytes)
    return true
  }

  release(gateway: string, vendor: string, bytes: number): void {
    if (bytes <= 0) return
    this.held -= bytes
    add(this.byGateway, gateway, -bytes)
    add(this.byVendor, vendor, -bytes)
  }

  /** One request's share: `take` reserves (nothing once released), `release` gives all of it back, once. */
  hold(gateway: string, vendor: string): BodyHold {
    let bytes = 0
    let released = false
    return {
      take: (n) => {
        if (released || !this.reserve(gateway, vendor, n)) return false
        bytes += n
        return true
      },
      release: () => {
        if (released) return
        released = true
        this.release(gateway, vendor, bytes)
      }
    }
  }

  /** Bytes held now (all gateways). */
  get total(): number {
    return this.held
  }
}
