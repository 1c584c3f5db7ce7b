/**
 * Who is calling: a console token in, a `Principal` or a 401 out. Shared by the HTTP
 * middleware (bearer header) and by endpoints that receive the token some other way
 * (the SSE stream's cookie or ticket), so every door checks tokens the same way.
 */
import { Clock, Context, Effect, Layer, Option } from "effect"
import { JwtSecret, JwtSecretLive } from "./JwtSecret.js"
import { type JwtError, type JwtFailure, makeRemoteJwks, verifyJwt } from "../identity/Jwt.js"
import type { Principal } from "./Principal.js"
import type { Secret } from "../identity/Secret.js"
import { type AuthSettings, AuthSettingsConfig } from "./AuthConfig.js"
import { Unauthorized } from "./Errors.js"

export class Authenticator extends Context.Tag("Auth/Authenticator")<Authenticator, {
  readonly authenticate: (token: string) => Effect.Effect<Principal, Unauthorized>
}>() {}

/** Verifies `token` (compact JWS, without the "Bearer " prefix). */
export const authenticate = (token: string): Effect.Effect<Principal, Unauthorized, Authenticator> =>
  Effect.flatMap(Authenticator, (authenticator) => authenticator.authenticate(token))

const MESSAGES: Readonly<Record<JwtFailure, string>> = {
  "malformed token": "the bearer token is not a well-formed JWT",
  "unsupported algorithm": "the token's signing algorithm is not accepted",
  "unknown signing key": "the token was signed with an unknown key",
  "signing keys unavailable": "signing keys are unavailable; try again later",
  "invalid signature": "the token's signature is invalid",
  "token expired": "the token has expired",
  "token not yet valid": "the token is not valid yet",
  "invalid issuer": "the token was issued by an unexpected issuer",
  "invalid audience": "the token is not meant for this service",
  "invalid claims": "the token's claims are invalid"
}

export const describeJwtError = (error: JwtError): string =>
  error.detail === undefined ? MESSAGES[error.reason] : `${MESSAGES[error.reason]} (${error.detail})`

/** An authenticator over fixed settings; `AuthenticatorLive` reads them from config. */
export const makeAuthenticator = (settings: AuthSettings, hs256Secret: Secret) =>
  Effect.gen(function*() {
    const jwks = Option.isSome(settings.jwksUrl) ? yield* makeRemoteJwks(settings.jwksUrl.value) : undefined
    const base = {
      clockSkewSeconds: settings.clockSkewSeconds,
      maxLifetimeSeconds: settings.maxLifetimeSeconds,
      // With JWKS configured, HS256 is refused ("unsupported algorithm") unless kept on purpose.
      ...(jwks === undefined || settings.allowHs256WithJwks ? { hs256Secret } : {}),
      ...(jwks === undefined ? {} : { jwks }),
      ...(Option.isSome(settings.issuer) ? { issuer: settings.issuer.value } : {}),
      ...(Option.isSome(settings.audience) ? { audience: settings.audience.value } : {})
    }
    return Authenticator.of({
      authenticate: (token) =>
        token.length === 0
          ? Effect.fail(new Unauthorized({ message: "missing bearer token (send Authorization: Bearer <jwt>)" }))
          : Clock.currentTimeMillis.pipe(
            Effect.flatMap((millis) => verifyJwt(token, { ...base, now: millis / 1000 })),
            Effect.mapError((error) => new Unauthorized({ message: describeJwtError(error) }))
          )
    })
  })

/** Settings from config, the HS256 secret from `JwtSecret`. */
export const AuthenticatorFromSecret = Layer.effect(
  Authenticator,
  Effect.gen(function*() {
    const settings = yield* AuthSettingsConfig
    const { secret } = yield* JwtSecret
    return yield* makeAuthenticator(settings, secret)
  })
)

export const AuthenticatorLive = AuthenticatorFromSecret.pipe(Layer.provide(JwtSecretLive))
