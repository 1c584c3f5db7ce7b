/**
 * Optional HMAC signing of ingest requests, in the style of Stripe's webhook
 * signatures.
 *
 *     X-MachPay-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...]
 *
 * where each `v1` is `hex(HMAC-SHA256(secret, "<t>." + <raw body bytes>))`. The
 * body is signed exactly as sent on the wire (before any gzip decoding on our
 * side, i.e. the bytes the gateway put in the request). Several `v1` entries may
 * be present: during a secret rotation the gateway signs with the old and the new
 * secret, and the request is authentic if any entry matches any secret we hold.
 * Unknown schemes (`v0=`, `v2=`...) are ignored, so new schemes can be added later.
 *
 * The timestamp bounds replay: a request whose `t` is more than
 * `toleranceSeconds` away from our clock (in either direction) is rejected. Inside
 * that window, `ReplayGuard` remembers signatures already accepted.
 */
import { createHmac, timingSafeEqual } from "node:crypto"
import { Data, Effect } from "effect"
import { type Secret, secretBytes } from "./Secret.js"

export const SIGNATURE_HEADER = "x-machpay-signature"

export type SignatureFailure = "missing" | "malformed" | "expired" | "mismatch"

const messages: Record<SignatureFailure, string> = {
  missing: "request signature missing",
  malformed: "request signature malformed",
  expired: "request signature timestamp outside the allowed window",
  mismatch: "request signature does not match"
}

export class SignatureError extends Data.TaggedError("SignatureError")<{
  readonly reason: SignatureFailure
}> {
  override get message(): string {
    return messages[this.reason]
  }
}

const computeV1 = (secret: Uint8Array, timestamp: number, body: Uint8Array): Buffer =>
  createHmac("sha256", secret).update(`${timestamp}.`, "utf8").update(body).digest()

/**
 * The header value for `body` signed at `nowSeconds`. Pass several secrets to
 * produce one `v1` entry per secret (rotation).
 */
export const signRequest = (
  secret: Secret | ReadonlyArray<Secret>,
  body: Uint8Array,
  nowSeconds: number
): string => {
  const t = Math.floor(nowSeconds)
  const secrets = Array.isArray(secret) ? secret : [secret]
  const entries = secrets.map((s: Secret) => `v1=${computeV1(secretBytes(s), t, body).toString("hex")}`)
  return [`t=${t}`, ...entries].join(",")
}

export interface ParsedSignature {
  readonly timestamp: number
  readonly signatures: ReadonlyArray<Buffer>
}

/** Parses the header; `undefined` when it is not well formed. */
export const parseSignatureHeader = (header: string): ParsedSignature | undefined => {
  let timestamp: number | undefined
  const signatures: Array<Buffer> = []
  for (const part of header.split(",")) {
    const eq = part.indexOf("=")
    if (eq <= 0) return undefined
    const key = part.slice(0, eq).trim()
    const value = part.slice(eq + 1).trim()
    if (key === "t") {
      if (timestamp !== undefined || !/^\d{1,12}$/.test(value)) return undefined
      timestamp = Number(value)
    } else if (key === "v1") {
      if (!/^[0-9a-fA-F]{64}$/.test(value)) return undefined
      signatures.push(Buffer.from(value, "hex"))
    }
  }
  return timestamp === undefined || signatures.length === 0 ? undefined : { timestamp, signatures }
}

export interface VerifySignatureOptions {
  readonly header: string | undefined
  readonly body: Uint8Array
  /** Several secrets may be held during a rotation; any of them may match. */
  readonly secret: Secret | ReadonlyArray<Secret>
  readonly nowSeconds: number
  readonly toleranceSeconds: number
}

/**
 * Succeeds when some `v1` entry is a valid HMAC of the body under some secret
 * and the timestamp is within the tolerance. The signature is checked before the
 * timestamp so that "expired" is only ever reported for authentic requests (a
 * useful hint that the gateway's clock is off).
 */
export const verifySignature = (options: VerifySignatureOptions): Effect.Effect<void, SignatureError> =>
  Effect.suspend(() => {
    const header = options.header?.trim()
    if (header === undefined || header.length === 0) {
      return Effect.fail(new SignatureError({ reason: "missing" }))
    }
    const parsed = parseSignatureHeader(header)
    if (parsed === undefined) return Effect.fail(new SignatureError({ reason: "malformed" }))

    const secrets = (Array.isArray(options.secret) ? options.secret : [options.secret])
      .map((s: Secret) => secretBytes(s))
      .filter((s) => s.length > 0)
    let matched = false
    for (const key of secrets) {
      const expected = computeV1(key, parsed.timestamp, options.body)
      // No early exit: every candidate is compared so timing does not tell which matched.
      for (const candidate of parsed.signatures) {
        if (timingSafeEqual(expected, candidate)) matched = true
      }
    }
    if (!matched) return Effect.fail(new SignatureError({ reason: "mismatch" }))
    if (Math.abs(options.nowSeconds - parsed.timestamp) > options.toleranceSeconds) {
      return Effect.fail(new SignatureError({ reason: "expired" }))
    }
    return Effect.void
  })

export interface ReplayGuardOptions {
  /**
   * How long a seen signature is remembered. A request is acceptable from
   * `t - tolerance` to `t + tolerance`, so use at least `2 * toleranceSeconds`.
   */
  readonly windowSeconds: number
  /** Upper bound on remembered signatures; the oldest are forgotten first. */
  readonly maxEntries: number
}

/**
 * Bounded in-memory memory of accepted signatures, per process. It is a cheap
 * first line against replays inside the timestamp window; event idempotency
 * (`source` + `id`) still guarantees a replayed event is stored once. When full,
 * the oldest entry is evicted rather than refusing new requests: under a flood
 * of distinct signed requests an old signature may become replayable, which the
 * idempotency keys absorb.
 */
export class ReplayGuard {
  // Insertion order is (nearly) expiry order since `now` only moves forward.
  private readonly entries = new Map<string, number>()

  constructor(private readonly options: ReplayGuardOptions) {}

  get size(): number {
    return this.entries.size
  }

  /**
   * True if `signature` was already seen and has not expired; otherwise records
   * it and returns false.
   */
  seen(signature: string, nowSeconds: number): boolean {
    this.prune(nowSeconds)
    const expiresAt = this.entries.get(signature)
    if (expiresAt !== undefined && expiresAt > nowSeconds) return true
    this.entries.delete(signature)
    this.entries.set(signature, nowSeconds + this.options.windowSeconds)
    while (this.entries.size > Math.max(1, this.options.maxEntries)) {
      const oldest = this.entries.keys().next()
      if (oldest.done === true) break
      this.entries.delete(oldest.value)
    }
    return false
  }

  private prune(nowSeconds: number): void {
    for (const [signature, expiresAt] of this.entries) {
      if (expiresAt > nowSeconds) break
      this.entries.delete(signature)
    }
  }
}
