/**
 * Bytes of ingest request bodies held at once, in total and per gateway. A request reserves its
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
}

export interface BodyHold {
  readonly take: (bytes: number) => boolean
  readonly release: () => void
}

export class BodyBudget {
  private held = 0
  private readonly byGateway = new Map<string, number>()

  constructor(private readonly limits: BodyBudgetLimits) {}

  /** Takes `bytes` for `gateway` if both limits allow it. */
  reserve(gateway: string, bytes: number): boolean {
    const mine = this.byGateway.get(gateway) ?? 0
    if (this.held + bytes > this.limits.total || mine + bytes > this.limits.perGateway) return false
    this.held += bytes
    this.byGateway.set(gateway, mine + bytes)
    return true
  }

  release(gateway: string, bytes: number): void {
    if (bytes <= 0) return
    const mine = (this.byGateway.get(gateway) ?? 0) - bytes
    this.held -= bytes
    if (mine <= 0) this.byGateway.delete(gateway)
    else this.byGateway.set(gateway, mine)
  }

  /** One request's share: `take` reserves (nothing once released), `release` gives all of it back, once. */
  hold(gateway: string): BodyHold {
    let bytes = 0
    let released = false
    return {
      take: (n) => {
        if (released || !this.reserve(gateway, n)) return false
        bytes += n
        return true
      },
      release: () => {
        if (released) return
        released = true
        this.release(gateway, bytes)
      }
    }
  }

  /** Bytes held now (all gateways). */
  get total(): number {
    return this.held
  }
}
