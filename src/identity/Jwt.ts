/**
 * Console identity: compact JWS tokens (RFC 7519) signed HS256 with a shared
 * secret, or RS256 by an identity provider whose public keys come from a JWKS.
 * Signatures are verified by `jose` (`compactVerify`); what is ours is the policy around it:
 * strict token shape first (so every malformed token reads "malformed token"), the
 * algorithm deciding where the key comes from (HS256 → the configured secret, RS256 → the
 * JWKS, so a token can never make an RSA public key serve as an HMAC secret, and `alg: none`
 * is never accepted), then our claims rules and their mapping to a `Principal`.
 * Minting (`signJwt`: the CLI's development tokens) is jose's `SignJWT`. Tests and load tools
 * that must sign synchronously use `testkit/jwt.ts`, checked against `signJwt`.
 */
import type { KeyObject } from "node:crypto"
import { Effect } from "effect"
import { compactVerify, errors as JoseErrors, type JWTPayload, SignJWT } from "jose"
import { JwtError } from "./JwtError.js"
import type { JwksResolver } from "./Jwks.js"
import type { Principal, PrincipalSpec, Role } from "../auth/Principal.js"
import { type Secret, secretBytes } from "./Secret.js"

export { JwtError, type JwtFailure } from "./JwtError.js"
export { type FetchLike, type JwksResolver, makeRemoteJwks, makeStaticJwks } from "./Jwks.js"

export type { Principal, PrincipalSpec, Role } from "../auth/Principal.js"

export interface JwtClaims {
  readonly sub: string
  readonly role: Role
  readonly vendor_id?: string
  readonly agent_id?: string
  readonly iat: number
  readonly exp: number
  readonly nbf?: number
  readonly iss?: string
  readonly aud?: string | ReadonlyArray<string>
}

/**
 * A compact JWT for `claims`, signed by jose: HS256 with a shared secret, or RS256 with a
 * private key (development tools; production RS256 tokens come from the IdP).
 */
/** Our claims as jose's payload type (whose `aud` array is mutable); `aud` keeps its place in the JSON. */
const payloadOf = (claims: JwtClaims): JWTPayload => {
  const { aud, ...rest } = claims
  return aud === undefined ? rest : { ...claims, aud: typeof aud === "string" ? aud : [...aud] }
}

export const signJwt = (
  claims: JwtClaims,
  key: { readonly alg: "HS256"; readonly secret: Secret } | { readonly alg: "RS256"; readonly privateKey: KeyObject },
  options: { readonly kid?: string } = {}
): Effect.Effect<string> =>
  Effect.promise(() =>
    new SignJWT(payloadOf(claims))
      .setProtectedHeader({ alg: key.alg, typ: "JWT", ...options })
      .sign(key.alg === "HS256" ? secretBytes(key.secret) : key.privateKey)
  )

/** Claims for a principal, valid from `now` for `ttlSeconds` (for the CLI's development tokens). */
export const claimsFor = (
  spec: PrincipalSpec,
  options: { readonly now: number; readonly ttlSeconds: number; readonly issuer?: string; readonly audience?: string }
): JwtClaims => {
  const now = Math.floor(options.now)
  const base = {
    iat: now,
    exp: now + options.ttlSeconds,
    ...(options.issuer === undefined ? {} : { iss: options.issuer }),
    ...(options.audience === undefined ? {} : { aud: options.audience })
  }
  switch (spec.role) {
    case "admin":
      return { ...base, sub: spec.subject, role: "admin" }
    case "vendor":
      return { ...base, sub: spec.subject ?? spec.vendorId, role: "vendor", vendor_id: spec.vendorId }
    case "agent":
      return { ...base, sub: spec.subject ?? spec.agentId, role: "agent", agent_id: spec.agentId }
  }
}

export interface VerifyJwtOptions {
  readonly hs256Secret?: Secret
  readonly jwks?: JwksResolver
  readonly issuer?: string
  readonly audience?: string
  readonly clockSkewSeconds: number
  /** Longest accepted lifetime: `exp − iat` and `exp − now` (plus skew); unset = no limit. */
  readonly maxLifetimeSeconds?: number
  /** Epoch seconds. */
  readonly now: number
}

const MAX_TOKEN_LENGTH = 8192
const SEGMENT = /^[A-Za-z0-9_-]+$/

const fail = (reason: JwtError["reason"], detail?: string): Effect.Effect<never, JwtError> =>
  Effect.fail(detail === undefined ? new JwtError({ reason }) : new JwtError({ reason, detail }))

/** Strict base64url: only the URL alphabet, no padding, canonical trailing bits. */
const decodeSegment = (segment: string): Buffer | undefined => {
  if (!SEGMENT.test(segment) || segment.length % 4 === 1) return undefined
  const bytes = Buffer.from(segment, "base64url")
  return bytes.toString("base64url") === segment ? bytes : undefined
}

const decodeJsonObject = (segment: string): Record<string, unknown> | undefined => {
  const bytes = decodeSegment(segment)
  if (bytes === undefined) return undefined
  try {
    const value: unknown = JSON.parse(bytes.toString("utf8"))
    return typeof value === "object" && value !== null && !Array.isArray(value) ? { ...value } : undefined
  } catch {
    return undefined
  }
}

const isNumericDate = (u: unknown): u is number => typeof u === "number" && Number.isFinite(u)
const isNonEmptyString = (u: unknown): u is string => typeof u === "string" && u.length > 0

/** jose's verdict in our words: its checks run after our shape and algorithm checks. */
const describeJoseError = (error: unknown): JwtError =>
  error instanceof JoseErrors.JOSEAlgNotAllowed || error instanceof JoseErrors.JOSENotSupported
    ? new JwtError({ reason: "unsupported algorithm" })
    : error instanceof JoseErrors.JWSInvalid
    ? new JwtError({ reason: "malformed token" })
    : new JwtError({ reason: "invalid signature" }) // a failed verification, or a key unfit for the algorithm

const checkSignature = (
  alg: "HS256" | "RS256",
  kid: string | undefined,
  token: string,
  options: VerifyJwtOptions
): Effect.Effect<void, JwtError> =>
  Effect.gen(function* () {
    let key: Uint8Array | KeyObject
    if (alg === "HS256") {
      const secret = options.hs256Secret === undefined ? undefined : secretBytes(options.hs256Secret)
      if (secret === undefined || secret.length === 0) return yield* fail("unsupported algorithm")
      key = secret
    } else {
      if (options.jwks === undefined) return yield* fail("unsupported algorithm")
      key = yield* options.jwks.getKey(kid)
      if (key.type !== "public" || key.asymmetricKeyType !== "rsa") return yield* fail("invalid signature")
    }
    yield* Effect.tryPromise({
      try: () => compactVerify(token, key, { algorithms: [alg] }),
      catch: describeJoseError
    })
  })

const toPrincipal = (claims: Record<string, unknown>, subject: string, exp: number): Effect.Effect<Principal, JwtError> => {
  const { role, vendor_id, agent_id } = claims
  switch (role) {
    case "admin":
      return Effect.succeed({ role, subject, expiresAt: exp })
    case "vendor":
      return isNonEmptyString(vendor_id)
        ? Effect.succeed({ role, vendorId: vendor_id, subject, expiresAt: exp })
        : fail("invalid claims", "vendor role requires vendor_id")
    case "agent":
      return isNonEmptyString(agent_id)
        ? Effect.succeed({ role, agentId: agent_id, subject, expiresAt: exp })
        : fail("invalid claims", "agent role requires agent_id")
    default:
      return fail("invalid claims", "role must be vendor, agent or admin")
  }
}

/**
 * Verifies a compact token and returns who it speaks for. Order: shape, then
 * signature, then time, issuer/audience and role claims — so claim-level
 * reasons are only reported for authentic tokens.
 */
export const verifyJwt = (token: string, options: VerifyJwtOptions): Effect.Effect<Principal, JwtError> =>
  Effect.gen(function* () {
    if (token.length > MAX_TOKEN_LENGTH) return yield* fail("malformed token")
    const parts = token.split(".")
    const [headerPart, payloadPart, signaturePart] = parts
    if (parts.length !== 3 || headerPart === undefined || payloadPart === undefined || signaturePart === undefined) {
      return yield* fail("malformed token")
    }
    const header = decodeJsonObject(headerPart)
    const claims = decodeJsonObject(payloadPart)
    if (header === undefined || claims === undefined) return yield* fail("malformed token")
    const { alg, kid, crit } = header
    if (typeof alg !== "string" || (kid !== undefined && typeof kid !== "string")) return yield* fail("malformed token")
    // We implement no JWS extensions, and a critical one must not be ignored (RFC 7515 §4.1.11).
    if (crit !== undefined) return yield* fail("unsupported algorithm")
    if (alg !== "HS256" && alg !== "RS256") return yield* fail("unsupported algorithm")
    if (decodeSegment(signaturePart) === undefined) return yield* fail("malformed token")

    yield* checkSignature(alg, kid, token, options)

    const { sub, exp, nbf, iat, iss, aud } = claims
    const skew = options.clockSkewSeconds
    const now = options.now
    if (!isNumericDate(exp)) return yield* fail("invalid claims", "exp is required")
    if ((nbf !== undefined && !isNumericDate(nbf)) || (iat !== undefined && !isNumericDate(iat))) {
      return yield* fail("invalid claims", "nbf and iat must be numeric dates")
    }
    if (now >= exp + skew) return yield* fail("token expired")
    if ((nbf !== undefined && nbf - skew > now) || (iat !== undefined && iat - skew > now)) {
      return yield* fail("token not yet valid")
    }
    const max = options.maxLifetimeSeconds
    if (max !== undefined && (exp - now > max + skew || (iat !== undefined && exp - iat > max))) {
      return yield* fail("invalid claims", `the token lives longer than the accepted maximum of ${max} s`)
    }
    if (options.issuer !== undefined && iss !== options.issuer) return yield* fail("invalid issuer")
    if (options.audience !== undefined) {
      const audiences: ReadonlyArray<unknown> = Array.isArray(aud) ? aud : [aud]
      if (!audiences.includes(options.audience)) return yield* fail("invalid audience")
    }
    if (!isNonEmptyString(sub)) return yield* fail("invalid claims", "sub is required")
    return yield* toPrincipal(claims, sub, exp)
  })
