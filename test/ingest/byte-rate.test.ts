/** What a refused body costs a gateway's byte rate (ByteRate.chargeRefused), and who is refused before reading. */
import { describe, expect, it } from "vitest"
import { ByteRate } from "../../src/ingest/ByteRate.js"
import type { GatewayIdentity } from "../../src/ingest/GatewayAuth.js"

const gateway = (id: string, signed = false): GatewayIdentity => ({
  id,
  vendorId: "v",
  rateLimitPerSec: null,
  rateLimitBytesPerSec: null,
  signingSecret: signed ? "mpsig_x" : null,
  disabled: false
})

const problem = (status: 400 | 413 | 415) => ({ status, error: "x", message: "x", field: "body" }) as const

/** A fresh bucket of 1,000 bytes a second; after the charge, does a request still pass right away? */
const owesAfter = (charge: (rate: ByteRate, g: GatewayIdentity) => void, signed = false) => {
  const rate = new ByteRate({ bytesPerSec: 1000, maxBodyBytes: 5000, maxDecompressedBytes: 20_000 })
  const g = gateway("g", signed)
  charge(rate, g)
  // A charge of 1,000 or more empties the bucket; then the next request is refused before reading.
  return rate.take(g, 1, 0).allowed ? !rate.owes(g, 0).allowed : true
}

describe("ByteRate.chargeRefused", () => {
  it("an unknown encoding (415) costs nothing", () => {
    expect(owesAfter((r, g) => r.chargeRefused(g, problem(415), "decode", 100_000, 0))).toBe(false)
  })

  it("a body that is not gzip costs its own bytes", () => {
    expect(owesAfter((r, g) => r.chargeRefused(g, problem(400), "decode", 300, 0))).toBe(false)
    expect(owesAfter((r, g) => r.chargeRefused(g, problem(400), "decode", 1500, 0))).toBe(true)
  })

  it("a body that inflated past the limit costs the limit; one over the body limit, the body limit", () => {
    const rate = new ByteRate({ bytesPerSec: 1000, maxBodyBytes: 5000, maxDecompressedBytes: 20_000 })
    const g = gateway("g")
    rate.chargeRefused(g, problem(413), "decode", 40, 0)
    // A full bucket (1,000) less 20,000: 19,000 owed; a second later 18,000, 18 s at 1,000 a second.
    const refused = rate.owes(g, 1000)
    expect(refused.allowed).toBe(false)
    expect(refused.retryAfterSeconds).toBe(18)
    expect(owesAfter((r, h) => r.chargeRefused(h, problem(413), "read", 0, 0))).toBe(true)
  })

  it("an oversize body is not charged to a signing gateway (a leaked key alone must not lock it out)", () => {
    expect(owesAfter((r, g) => r.chargeRefused(g, problem(413), "read", 0, 0), true)).toBe(false)
  })

  it("says which limit applied", () => {
    const rate = new ByteRate({ bytesPerSec: 1000, maxBodyBytes: 5000, maxDecompressedBytes: 20_000 })
    expect(rate.message(gateway("g"))).toContain("INGEST_RATE_LIMIT_BYTES_PER_SEC")
    expect(rate.message({ ...gateway("g"), rateLimitBytesPerSec: 50 })).toContain("50 bytes of bodies per second: its rate_limit_bytes_per_sec")
  })
})
