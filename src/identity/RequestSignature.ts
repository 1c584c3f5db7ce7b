/**
 * Optional HMAC signing of ingest requests, in the style of Stripe's webhook
 * signatures.
 *
 *     X-MachPay-Signature: t=<unix seconds>,v1=<64 lowercase hex digits>
 *
 * where `v1` is `hex(HMAC-SHA256(secret, "<t>." + <raw body bytes>))`. The body is
 * signed exactly as sent on the wire (before any gzip decoding on our side, i.e. the
 * bytes the gateway put in the request).
 *
 * In CloudEvents binary mode the event's attributes travel in headers, so they are signed
 * too: `v1 = hex(HMAC-SHA256(secret, "<t>." + <header block> + <raw body bytes>))`, where the
 * header block is every `ce-*` header, `content-type` and `content-encoding`, one `name:value\n` line each with
 * the name in lower case, the lines sorted by code unit, then one more `\n` (`binaryHeaderBlock`). Without
 * it, anyone holding a signed request that was not accepted could change its id or time
 * and send it again under the gateway's name.
 *
 * The header is parsed strictly: exactly one `t` (no leading zeros) and exactly one
 * `v1`, nothing else, no whitespace. Every header that verifies is then the one
 * canonical text for its (timestamp, body), so no variant can slip past the replay
 * guard, and a malformed header is told apart from a wrong one. The server may hold
 * several secrets (rotation on our side); the gateway sends one signature.
 *
 * The timestamp bounds replay: a request whose `t` is more than `toleranceSeconds`
 * away from our clock (in either direction) is rejected. Inside that window,
 * `ReplayGuard` remembers what was verified: gateway, timestamp and body digest.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto"
import { Data, Effect } from "effect"
import { type Secret, secretBytes } from "./Secret.js"

export const SIGNATURE_HEADER = "x-machpay-signature"

export type SignatureFailure = "missing" | "malformed" | "expired" | "mismatch"

const BODY_ONLY = "it covers the body only; in binary mode the ce-*, content-type and content-encoding headers are signed too " +
  "(\"<t>.\" + header block + body, see docs/ingest.md)"

/** What a well-formed header looks like, quoted in every "malformed" answer. */
export const SIGNATURE_FORMAT = "t=<unix seconds>,v1=<64 lowercase hex digits> (exactly one of each, no spaces)"

const messages: Record<SignatureFailure, string> = {
  missing: "request signature missing",
  malformed: "request signature malformed",
  expired: "request signature timestamp outside the allowed window",
  mismatch: "request signature does not match"
}

export class SignatureError extends Data.TaggedError("SignatureError")<{
  readonly reason: SignatureFailure
  /** For "malformed": what is wrong with the header (no secret material). */
  readonly detail?: string
}> {
  override get message(): string {
    return this.detail === undefined ? messages[this.reason] : `${messages[this.reason]}: ${this.detail}`
  }
}

/**
 * The signed header block of a binary-mode request: its `ce-*`, `content-type` and
 * `content-encoding` headers as `name:value\n` lines, the lines sorted by code unit (whole
 * lines, not names: `ce-ext1:…` comes before `ce-ext:…`), and a closing `\n`. Values are as
 * Node's HTTP parser hands them over: latin1 text, surrounding spaces and tabs removed, a
 * repeated `ce-*` header's values joined with ", ". `content-encoding` decides how the signed
 * bytes are read (gzip or not), so it is signed too.
 */
export const binaryHeaderBlock = (headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>): string => {
  const lines: Array<string> = []
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue
    const lower = name.toLowerCase()
    if (lower.startsWith("ce-") || lower === "content-type" || lower === "content-encoding") {
      lines.push(`${lower}:${typeof value === "string" ? value : value.join(", ")}\n`)
    }
  }
  return `${lines.sort().join("")}\n`
}

const computeV1 = (secret: Uint8Array, timestamp: number, body: Uint8Array, headerBlock: string): Buffer =>
  createHmac("sha256", secret).update(`${timestamp}.`, "utf8").update(headerBlock, "latin1").update(body).digest()

/**
 * The header value for `body` signed at `nowSeconds` with `secret`; in binary mode pass the
 * request's `binaryHeaderBlock` as `headerBlock`.
 */
export const signRequest = (secret: Secret, body: Uint8Array, nowSeconds: number, headerBlock = ""): string => {
  const t = Math.floor(nowSeconds)
  return `t=${t},v1=${computeV1(secretBytes(secret), t, body, headerBlock).toString("hex")}`
}

export interface ParsedSignature {
  readonly timestamp: number
  readonly signature: Buffer
}

const TIMESTAMP = /^(?:0|[1-9]\d{0,11})$/
const V1 = /^[0-9a-f]{64}$/

/** Parses the header strictly; a string says what is wrong with it. */
export const parseSignatureHeader = (header: string): ParsedSignature | string => {
  if (/\s/.test(header)) return `whitespace is not allowed; expected ${SIGNATURE_FORMAT}`
  let timestamp: number | undefined
  let signature: Buffer | undefined
  for (const part of header.split(",")) {
    const eq = part.indexOf("=")
    const key = eq < 0 ? part : part.slice(0, eq)
    const value = eq < 0 ? "" : part.slice(eq + 1)
    if (key === "t") {
      if (timestamp !== undefined) return `more than one t entry; expected ${SIGNATURE_FORMAT}`
      if (!TIMESTAMP.test(value)) return `t must be unix seconds (digits, no leading zeros); expected ${SIGNATURE_FORMAT}`
      timestamp = Number(value)
    } else if (key === "v1") {
      if (signature !== undefined) return `more than one v1 entry; expected ${SIGNATURE_FORMAT}`
      if (!V1.test(value)) return `v1 must be 64 lowercase hex digits; expected ${SIGNATURE_FORMAT}`
      signature = Buffer.from(value, "hex")
    } else {
      return `unknown entry ${JSON.stringify(key.slice(0, 16))}; expected ${SIGNATURE_FORMAT}`
    }
  }
  if (timestamp === undefined) return `no t entry; expected ${SIGNATURE_FORMAT}`
  if (signature === undefined) return `no v1 entry; expected ${SIGNATURE_FORMAT}`
  return { timestamp, signature }
}

export interface VerifySignatureOptions {
  readonly header: string | undefined
  readonly body: Uint8Array
  /** Binary mode: the request's `binaryHeaderBlock`, signed with the body. Otherwise empty. */
  readonly headerBlock?: string
  /** Several secrets may be held during a rotation; any of them may match. */
  readonly secret: Secret | ReadonlyArray<Secret>
  readonly nowSeconds: number
  readonly toleranceSeconds: number
}

/** What a successful verification vouches for. */
export interface VerifiedSignature {
  readonly timestamp: number
}

/**
 * Succeeds when `v1` is a valid HMAC of the body under some secret and the
 * timestamp is within the tolerance. The signature is checked before the
 * timestamp so that "expired" is only ever reported for authentic requests (a
 * useful hint that the gateway's clock is off).
 */
export const verifySignature = (options: VerifySignatureOptions): Effect.Effect<VerifiedSignature, SignatureError> =>
  Effect.suspend(() => {
    const header = options.header
    if (header === undefined || header.trim().length === 0) {
      return Effect.fail(new SignatureError({ reason: "missing" }))
    }
    const parsed = parseSignatureHeader(header)
    if (typeof parsed === "string") return Effect.fail(new SignatureError({ reason: "malformed", detail: parsed }))

    const secrets = (Array.isArray(options.secret) ? options.secret : [options.secret])
      .map((s: Secret) => secretBytes(s))
      .filter((s) => s.length > 0)
    const headerBlock = options.headerBlock ?? ""
    const matches = (block: string) => {
      let matched = false
      // No early exit: every secret is compared so timing does not tell which matched.
      for (const key of secrets) {
        if (timingSafeEqual(computeV1(key, parsed.timestamp, options.body, block), parsed.signature)) matched = true
      }
      return matched
    }
    if (!matches(headerBlock)) {
      // A binary-mode signer that signed the body alone is told what is missing.
      return Effect.fail(
        headerBlock !== "" && matches("")
          ? new SignatureError({ reason: "mismatch", detail: BODY_ONLY })
          : new SignatureError({ reason: "mismatch" })
      )
    }
    if (Math.abs(options.nowSeconds - parsed.timestamp) > options.toleranceSeconds) {
      return Effect.fail(new SignatureError({ reason: "expired" }))
    }
    return Effect.succeed({ timestamp: parsed.timestamp })
  })

/**
 * The replay guard's key: what was verified (gateway, timestamp, digest of the signed header
 * block and body), never the header text, so no spelling of the same signed request counts as
 * new, while two binary-mode events with the same body and different ids are two requests.
 */
export const replayKey = (gatewayId: string, verified: VerifiedSignature, body: Uint8Array, headerBlock = ""): string =>
  `${gatewayId}\u0000${verified.timestamp}\u0000${
    createHash("sha256").update(headerBlock, "latin1").update(body).digest("base64")
  }`

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
 * Bounded in-memory memory of accepted signed requests, per process. It is a cheap
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
   * True if `key` was already seen and has not expired; otherwise records it and
   * returns false.
   */
  seen(key: string, nowSeconds: number): boolean {
    return !this.claim(key, nowSeconds)
  }

  /**
   * Records `key` unless it is already held: true when the caller now holds it. A
   * request claims its key before anything is written (so a concurrent copy is refused
   * too) and `release`s it when the request was not accepted, so it may be re-sent as is.
   */
  claim(key: string, nowSeconds: number): boolean {
    this.prune(nowSeconds)
    const expiresAt = this.entries.get(key)
    if (expiresAt !== undefined && expiresAt > nowSeconds) return false
    this.entries.delete(key)
    this.entries.set(key, nowSeconds + this.options.windowSeconds)
    while (this.entries.size > Math.max(1, this.options.maxEntries)) {
      const oldest = this.entries.keys().next()
      if (oldest.done === true) break
      this.entries.delete(oldest.value)
    }
    return true
  }

  /** Forgets `key`: the request holding it was not accepted. */
  release(key: string): void {
    this.entries.delete(key)
  }

  private prune(nowSeconds: number): void {
    for (const [signature, expiresAt] of this.entries) {
      if (expiresAt > nowSeconds) break
      this.entries.delete(signature)
    }
  }
}
