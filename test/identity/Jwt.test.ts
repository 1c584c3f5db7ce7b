import { describe, expect, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { createHmac, generateKeyPairSync } from "node:crypto"
import { claimsFor, type JwtClaims, JwtError, makeStaticJwks, signJwt, verifyJwt, type VerifyJwtOptions } from "../../src/identity/Jwt.js"
import { signHs256, signRs256 } from "../../testkit/jwt.js"

const secret = "dev-console-secret-at-least-32-bytes!!"
const now = 1_700_000_000
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url")

const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 })
const otherRsa = generateKeyPairSync("rsa", { modulusLength: 2048 })
const jwks = makeStaticJwks({
  keys: [
    { ...rsa.publicKey.export({ format: "jwk" }), kid: "k1", use: "sig", alg: "RS256" },
    { ...otherRsa.publicKey.export({ format: "jwk" }), kid: "k2" }
  ]
})

const vendorClaims: JwtClaims = { sub: "v_1", role: "vendor", vendor_id: "v_1", iat: now - 10, exp: now + 3600 }

const hsOptions: VerifyJwtOptions = { hs256Secret: secret, clockSkewSeconds: 60, now }
const rsOptions: VerifyJwtOptions = { jwks, clockSkewSeconds: 60, now }

const reasonOf = (token: string, options: VerifyJwtOptions = hsOptions) =>
  Effect.flip(verifyJwt(token, options)).pipe(Effect.map((e) => e.reason))

/** An HS256 token over an arbitrary header and payload segment (for malformed cases). */
const rawHs256 = (header: unknown, payloadSegment: string) => {
  const input = `${b64(header)}.${payloadSegment}`
  return `${input}.${createHmac("sha256", secret).update(input).digest("base64url")}`
}

describe("Jwt HS256", () => {
  it.effect("round-trips each role", () =>
    Effect.gen(function* () {
      const vendor = yield* verifyJwt(signHs256(vendorClaims, secret), hsOptions)
      expect(vendor).toEqual({ role: "vendor", vendorId: "v_1", subject: "v_1", expiresAt: now + 3600 })

      const agent = yield* verifyJwt(
        signHs256(claimsFor({ role: "agent", agentId: "ag_7" }, { now, ttlSeconds: 600 }), secret),
        hsOptions
      )
      expect(agent).toEqual({ role: "agent", agentId: "ag_7", subject: "ag_7", expiresAt: now + 600 })

      const admin = yield* verifyJwt(
        signHs256(claimsFor({ role: "admin", subject: "ops@machpay" }, { now, ttlSeconds: 600 }), Redacted.make(secret)),
        { ...hsOptions, hs256Secret: Redacted.make(secret) }
      )
      expect(admin).toEqual({ role: "admin", subject: "ops@machpay", expiresAt: now + 600 })
    }))

  it.effect("applies clock skew to exp", () =>
    Effect.gen(function* () {
      const expired30sAgo = signHs256({ ...vendorClaims, exp: now - 30 }, secret)
      yield* verifyJwt(expired30sAgo, hsOptions) // within the 60 s skew
      expect(yield* reasonOf(expired30sAgo, { ...hsOptions, clockSkewSeconds: 0 })).toBe("token expired")
      expect(yield* reasonOf(signHs256({ ...vendorClaims, exp: now - 61 }, secret))).toBe("token expired")
    }))

  it.effect("rejects tokens that are not yet valid", () =>
    Effect.gen(function* () {
      expect(yield* reasonOf(signHs256({ ...vendorClaims, nbf: now + 120 }, secret))).toBe("token not yet valid")
      expect(yield* reasonOf(signHs256({ ...vendorClaims, iat: now + 120 }, secret))).toBe("token not yet valid")
      yield* verifyJwt(signHs256({ ...vendorClaims, nbf: now + 30, iat: now + 30 }, secret), hsOptions)
    }))

  it.effect("rejects a wrong secret and a tampered payload", () =>
    Effect.gen(function* () {
      expect(yield* reasonOf(signHs256(vendorClaims, "another-secret"))).toBe("invalid signature")
      const [h, , s] = signHs256(vendorClaims, secret).split(".")
      const forged = `${h}.${b64({ ...vendorClaims, role: "admin" })}.${s}`
      expect(yield* reasonOf(forged)).toBe("invalid signature")
      expect(yield* reasonOf(`${h}.${b64(vendorClaims)}.${"A".repeat(10)}`)).toBe("invalid signature")
    }))

  it.effect("rejects alg none and unknown algorithms", () =>
    Effect.gen(function* () {
      const payload = b64({ ...vendorClaims, role: "admin" })
      expect(yield* reasonOf(`${b64({ alg: "none", typ: "JWT" })}.${payload}.`)).toBe("unsupported algorithm")
      expect(yield* reasonOf(`${b64({ alg: "none" })}.${payload}.AAAA`)).toBe("unsupported algorithm")
      expect(yield* reasonOf(`${b64({ alg: "HS512" })}.${payload}.AAAA`)).toBe("unsupported algorithm")
      expect(yield* reasonOf(`${b64({ alg: "HS256", crit: ["exp"] })}.${payload}.AAAA`)).toBe("unsupported algorithm")
    }))

  it.effect("rejects malformed tokens", () =>
    Effect.gen(function* () {
      for (const token of [
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        `${b64({ alg: "HS256" })}.not+base64.AAAA`,
        `${b64({ alg: "HS256" })}.${b64(vendorClaims)}=.AAAA`,
        rawHs256({ alg: "HS256" }, Buffer.from("{not json").toString("base64url")),
        rawHs256({ alg: "HS256" }, b64([1, 2, 3])),
        `${Buffer.from("nope").toString("base64url")}.${b64(vendorClaims)}.AAAA`,
        `${b64({ alg: 256 })}.${b64(vendorClaims)}.AAAA`,
        "x".repeat(10_000)
      ]) {
        expect(yield* reasonOf(token), token.slice(0, 40)).toBe("malformed token")
      }
    }))

  it.effect("checks issuer and audience when configured", () =>
    Effect.gen(function* () {
      const options = { ...hsOptions, issuer: "https://id.machpay", audience: "console" }
      const good = signHs256({ ...vendorClaims, iss: "https://id.machpay", aud: ["other", "console"] }, secret)
      yield* verifyJwt(good, options)
      yield* verifyJwt(signHs256({ ...vendorClaims, iss: "https://id.machpay", aud: "console" }, secret), options)
      expect(yield* reasonOf(signHs256({ ...vendorClaims, iss: "evil", aud: "console" }, secret), options)).toBe(
        "invalid issuer"
      )
      expect(yield* reasonOf(signHs256({ ...vendorClaims, aud: "console" }, secret), options)).toBe("invalid issuer")
      expect(yield* reasonOf(signHs256({ ...vendorClaims, iss: "https://id.machpay", aud: "x" }, secret), options)).toBe(
        "invalid audience"
      )
      expect(yield* reasonOf(signHs256({ ...vendorClaims, iss: "https://id.machpay" }, secret), options)).toBe(
        "invalid audience"
      )
    }))

  it.effect("requires role claims", () =>
    Effect.gen(function* () {
      const cases: ReadonlyArray<[Record<string, unknown>, string]> = [
        [{ sub: "v_1", role: "vendor", exp: now + 60 }, "vendor role requires vendor_id"],
        [{ sub: "v_1", role: "vendor", vendor_id: "", exp: now + 60 }, "vendor role requires vendor_id"],
        [{ sub: "a_1", role: "agent", vendor_id: "v_1", exp: now + 60 }, "agent role requires agent_id"],
        [{ sub: "x", exp: now + 60 }, "role must be vendor, agent or admin"],
        [{ sub: "x", role: "superuser", exp: now + 60 }, "role must be vendor, agent or admin"],
        [{ role: "admin", exp: now + 60 }, "sub is required"],
        [{ sub: "x", role: "admin" }, "exp is required"],
        [{ sub: "x", role: "admin", exp: "soon" }, "exp is required"],
        [{ sub: "x", role: "admin", exp: now + 60, nbf: "now" }, "nbf and iat must be numeric dates"]
      ]
      for (const [claims, detail] of cases) {
        const error = yield* Effect.flip(verifyJwt(rawHs256({ alg: "HS256" }, b64(claims)), hsOptions))
        expect(error).toBeInstanceOf(JwtError)
        expect(error.reason).toBe("invalid claims")
        expect(error.detail).toBe(detail)
        expect(error.message).toBe(`invalid claims: ${detail}`)
      }
    }))

  it.effect("never puts the token or secret in the error", () =>
    Effect.gen(function* () {
      const token = signHs256({ ...vendorClaims, exp: now - 1000 }, secret)
      const error = yield* Effect.flip(verifyJwt(token, hsOptions))
      expect(error.message).toBe("token expired")
      expect(JSON.stringify(error)).not.toContain(token.split(".")[1])
      expect(JSON.stringify(error)).not.toContain(secret)
    }))
})

describe("minting with jose (signJwt)", () => {
  const withAud = { ...claimsFor({ role: "agent", agentId: "ag_7" }, { now, ttlSeconds: 600, issuer: "https://id.machpay", audience: "console" }) }
  const audiences: JwtClaims = { ...vendorClaims, aud: ["other", "console"] }

  it.effect("mints exactly the tokens of the synchronous signers the tests and load tools use", () =>
    Effect.gen(function* () {
      for (const claims of [vendorClaims, withAud, audiences]) {
        expect(yield* signJwt(claims, { alg: "HS256", secret })).toBe(signHs256(claims, secret))
        expect(yield* signJwt(claims, { alg: "HS256", secret: Redacted.make(secret) }, { kid: "k1" })).toBe(
          signHs256(claims, secret, { kid: "k1" })
        )
        // RSASSA-PKCS1-v1_5 is deterministic, so RS256 tokens compare byte for byte too.
        expect(yield* signJwt(claims, { alg: "RS256", privateKey: rsa.privateKey }, { kid: "k1" })).toBe(
          signRs256(claims, rsa.privateKey, "k1")
        )
      }
    }))

  it.effect("mints tokens that verify, with our claims mapping", () =>
    Effect.gen(function* () {
      const hs = yield* signJwt(withAud, { alg: "HS256", secret })
      expect(yield* verifyJwt(hs, { ...hsOptions, issuer: "https://id.machpay", audience: "console" })).toEqual({
        role: "agent", agentId: "ag_7", subject: "ag_7", expiresAt: now + 600
      })
      const rs = yield* signJwt(vendorClaims, { alg: "RS256", privateKey: rsa.privateKey }, { kid: "k1" })
      expect(yield* verifyJwt(rs, rsOptions)).toEqual({ role: "vendor", vendorId: "v_1", subject: "v_1", expiresAt: now + 3600 })
      expect(yield* reasonOf(yield* signJwt(vendorClaims, { alg: "HS256", secret: "another-secret" }))).toBe("invalid signature")
    }))
})

describe("Jwt RS256 via JWKS", () => {
  it.effect("verifies tokens signed by a key in the set", () =>
    Effect.gen(function* () {
      const principal = yield* verifyJwt(signRs256(vendorClaims, rsa.privateKey, "k1"), rsOptions)
      expect(principal).toEqual({ role: "vendor", vendorId: "v_1", subject: "v_1", expiresAt: now + 3600 })
      yield* verifyJwt(signRs256(vendorClaims, otherRsa.privateKey, "k2"), rsOptions)
    }))

  it.effect("rejects a token whose kid names another key", () =>
    Effect.gen(function* () {
      expect(yield* reasonOf(signRs256(vendorClaims, rsa.privateKey, "k2"), rsOptions)).toBe("invalid signature")
    }))

  it.effect("rejects an unknown or absent kid when the set has several keys", () =>
    Effect.gen(function* () {
      expect(yield* reasonOf(signRs256(vendorClaims, rsa.privateKey, "k9"), rsOptions)).toBe("unknown signing key")
      expect(yield* reasonOf(signRs256(vendorClaims, rsa.privateKey), rsOptions)).toBe("unknown signing key")
    }))

  it.effect("uses the only key when a one-key set meets a token without kid", () =>
    Effect.gen(function* () {
      const single = makeStaticJwks(JSON.stringify({ keys: [rsa.publicKey.export({ format: "jwk" })] }))
      yield* verifyJwt(signRs256(vendorClaims, rsa.privateKey), { ...rsOptions, jwks: single })
    }))

  it.effect("rejects HS256 tokens when only a JWKS is configured", () =>
    Effect.gen(function* () {
      expect(yield* reasonOf(signHs256(vendorClaims, secret), rsOptions)).toBe("unsupported algorithm")
    }))

  it.effect("rejects RS256 tokens when only an HS256 secret is configured", () =>
    Effect.gen(function* () {
      expect(yield* reasonOf(signRs256(vendorClaims, rsa.privateKey, "k1"), hsOptions)).toBe("unsupported algorithm")
    }))

  it.effect("cannot be fooled into using the RSA public key as an HMAC secret", () =>
    Effect.gen(function* () {
      const pem = rsa.publicKey.export({ format: "pem", type: "spki" })
      const token = signHs256(vendorClaims, pem.toString(), { kid: "k1" })
      expect(yield* reasonOf(token, rsOptions)).toBe("unsupported algorithm")
    }))

  it.effect("rejects an RS256 signature over a tampered payload", () =>
    Effect.gen(function* () {
      const [h, , s] = signRs256(vendorClaims, rsa.privateKey, "k1").split(".")
      expect(yield* reasonOf(`${h}.${b64({ ...vendorClaims, role: "admin" })}.${s}`, rsOptions)).toBe("invalid signature")
    }))

  it.effect("imports only RSA signing keys of adequate size", () => Effect.gen(function* () {
    const small = generateKeyPairSync("rsa", { modulusLength: 1024 })
    const ec = generateKeyPairSync("ec", { namedCurve: "P-256" })
    const resolver = makeStaticJwks({
      keys: [
        { ...small.publicKey.export({ format: "jwk" }), kid: "small" },
        { ...ec.publicKey.export({ format: "jwk" }), kid: "ec" },
        { ...rsa.publicKey.export({ format: "jwk" }), kid: "enc", use: "enc" },
        { ...rsa.publicKey.export({ format: "jwk" }), kid: "ps", alg: "PS256" },
        { kty: "oct", k: "c2VjcmV0", kid: "oct" },
        "junk"
      ]
    })
    for (const kid of ["small", "ec", "enc", "ps", "oct"]) {
      expect((yield* Effect.flip(resolver.getKey(kid))).reason).toBe("unknown signing key")
    }
    for (const document of ["not json", { keys: "nope" }]) {
      expect((yield* Effect.flip(makeStaticJwks(document).getKey(undefined))).reason).toBe("unknown signing key")
    }
  }))
})
