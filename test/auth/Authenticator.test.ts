/** `authenticate`: the one token check shared by the bearer middleware and other doors (SSE). */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { type AuthSettings } from "../../src/auth/AuthConfig.js"
import { authenticate, Authenticator, makeAuthenticator } from "../../src/auth/Authenticator.js"
import { claimsFor, type JwtClaims } from "../../src/identity/Jwt.js"
import { signHs256 } from "../../testkit/jwt.js"

const SECRET = "auth-test-secret-auth-test-secret-auth!"
const now = () => Math.floor(Date.now() / 1000)

const settings = (overrides: Partial<AuthSettings> = {}): AuthSettings => ({
  jwksUrl: Option.none(),
  issuer: Option.none(),
  audience: Option.none(),
  clockSkewSeconds: 60,
  maxLifetimeSeconds: 30 * 86_400,
  allowHs256WithJwks: false,
  ...overrides
})

const run = (token: string, overrides: Partial<AuthSettings> = {}) =>
  Effect.flatMap(makeAuthenticator(settings(overrides), SECRET), (authenticator) =>
    authenticate(token).pipe(Effect.provideService(Authenticator, authenticator), Effect.either))

const vendor = (extra: Partial<JwtClaims> = {}): JwtClaims => ({
  ...claimsFor({ role: "vendor", vendorId: "v1" }, { now: now(), ttlSeconds: 300 }),
  ...extra
})

const failure = (result: { readonly _tag: string; readonly left?: { readonly message: string } }) =>
  result._tag === "Left" ? result.left?.message : undefined

describe("authenticate", () => {
  it.live("returns the principal of a valid token, for each role", () =>
    Effect.gen(function*() {
      const v = yield* run(signHs256(vendor(), SECRET))
      expect(v).toMatchObject({ _tag: "Right", right: { role: "vendor", vendorId: "v1", subject: "v1" } })
      const a = yield* run(signHs256(claimsFor({ role: "agent", agentId: "a1" }, { now: now(), ttlSeconds: 60 }), SECRET))
      expect(a).toMatchObject({ _tag: "Right", right: { role: "agent", agentId: "a1" } })
      const admin = yield* run(signHs256(claimsFor({ role: "admin", subject: "ops" }, { now: now(), ttlSeconds: 60 }), SECRET))
      expect(admin).toMatchObject({ _tag: "Right", right: { role: "admin", subject: "ops" } })
    }))

  it.live("tolerates clock skew up to JWT_CLOCK_SKEW_SECONDS, and no further", () =>
    Effect.gen(function*() {
      const justExpired = signHs256(vendor({ exp: now() - 30 }), SECRET)
      expect((yield* run(justExpired))._tag).toBe("Right")
      expect(failure(yield* run(justExpired, { clockSkewSeconds: 0 }))).toBe("the token has expired")
      expect(failure(yield* run(signHs256(vendor({ exp: now() - 120 }), SECRET)))).toBe("the token has expired")
      expect(failure(yield* run(signHs256(vendor({ nbf: now() + 600 }), SECRET)))).toBe("the token is not valid yet")
      expect((yield* run(signHs256(vendor({ nbf: now() + 30 }), SECRET)))._tag).toBe("Right")
    }))

  it.live("refuses missing, malformed and forged tokens, and wrong issuer or audience", () =>
    Effect.gen(function*() {
      expect(failure(yield* run(""))).toMatch(/^missing bearer token/)
      expect(failure(yield* run("a.b"))).toBe("the bearer token is not a well-formed JWT")
      expect(failure(yield* run(signHs256(vendor(), "another-secret-another-secret-another!")))).toBe(
        "the token's signature is invalid"
      )
      const withIss = signHs256(vendor({ iss: "https://idp.example", aud: "console" }), SECRET)
      expect((yield* run(withIss, { issuer: Option.some("https://idp.example"), audience: Option.some("console") }))._tag).toBe("Right")
      expect(failure(yield* run(withIss, { issuer: Option.some("https://other.example") }))).toBe(
        "the token was issued by an unexpected issuer"
      )
      expect(failure(yield* run(withIss, { audience: Option.some("billing") }))).toBe("the token is not meant for this service")
      const noVendor = signHs256({ sub: "x", role: "vendor", iat: now(), exp: now() + 60 }, SECRET)
      expect(failure(yield* run(noVendor))).toBe("the token's claims are invalid (vendor role requires vendor_id)")
    }))

  it.live("with JWKS_URL configured, HS256 tokens are refused unless JWT_ALLOW_HS256", () =>
    Effect.gen(function*() {
      // The JWKS is fetched lazily, only for RS256 tokens: an unreachable URL is fine here.
      const jwks = { jwksUrl: Option.some("http://127.0.0.1:9/jwks.json") }
      const token = signHs256(vendor(), SECRET)
      expect(failure(yield* run(token, jwks))).toBe("the token's signing algorithm is not accepted")
      expect((yield* run(token, { ...jwks, allowHs256WithJwks: true }))._tag).toBe("Right")
      expect((yield* run(token))._tag).toBe("Right") // no JWKS: HS256 is the way in
    }))

  it.live("refuses tokens living longer than JWT_MAX_TOKEN_LIFETIME (exp centuries ahead)", () =>
    Effect.gen(function*() {
      const centuries = signHs256(vendor({ exp: now() + 300 * 365 * 86_400 }), SECRET)
      expect(failure(yield* run(centuries))).toMatch(/lives longer than the accepted maximum of 2592000 s/)
      // Also judged on iat: issued long ago with a long life, even if exp is near.
      const old = signHs256(vendor({ iat: now() - 40 * 86_400, exp: now() + 60 }), SECRET)
      expect(failure(yield* run(old))).toMatch(/lives longer/)
      const month = signHs256(vendor({ exp: now() + 30 * 86_400 }), SECRET)
      expect((yield* run(month))._tag).toBe("Right")
      expect((yield* run(centuries, { maxLifetimeSeconds: 400 * 365 * 86_400 }))._tag).toBe("Right")
    }))
})
