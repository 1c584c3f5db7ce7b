/**
 * Console token verification settings, read inside the auth layer. The HS256 secret comes
 * from `JwtSecret` (`JWT_SECRET`, or the development secret file — see src/auth/JwtSecret.ts).
 *
 *   JWKS_URL                 RS256 public keys of an identity provider (optional)
 *   JWT_ISSUER, JWT_AUDIENCE required `iss` / `aud` when set
 *   JWT_CLOCK_SKEW_SECONDS   tolerance for exp/nbf/iat, default 60
 *   JWT_MAX_TOKEN_LIFETIME   longest accepted lifetime (exp − iat, and exp − now), default 30 days
 *   JWT_ALLOW_HS256          with JWKS_URL set, whether HS256 tokens are still accepted (default false)
 */
import { checked } from "../config/AppConfig.js"
import { Config, Duration, type Option } from "effect"

export interface AuthSettings {
  readonly jwksUrl: Option.Option<string>
  readonly issuer: Option.Option<string>
  readonly audience: Option.Option<string>
  readonly clockSkewSeconds: number
  /**
   * A token living longer is refused: a leaked token with `exp` centuries ahead would be a
   * permanent credential. 30 days is the longest the CLI mints.
   */
  readonly maxLifetimeSeconds: number
  /**
   * With an identity provider (JWKS) configured, the shared HS256 secret is a second, weaker way
   * in (anyone holding the secret mints any role); refused unless explicitly kept.
   */
  readonly allowHs256WithJwks: boolean
}

const nonEmpty = (name: string) => checked(name, Config.string(name), "must not be empty", (s) => s.trim().length > 0)

export const AuthSettingsConfig: Config.Config<AuthSettings> = Config.all({
  jwksUrl: Config.option(
    checked("JWKS_URL", nonEmpty("JWKS_URL"), "must be an http(s) URL", (url) => /^https?:\/\/\S+$/.test(url))
  ),
  issuer: Config.option(nonEmpty("JWT_ISSUER")),
  audience: Config.option(nonEmpty("JWT_AUDIENCE")),
  clockSkewSeconds: checked(
    "JWT_CLOCK_SKEW_SECONDS",
    Config.integer("JWT_CLOCK_SKEW_SECONDS").pipe(Config.withDefault(60)),
    "must be between 0 and 3600",
    (n) => n >= 0 && n <= 3600
  ),
  maxLifetimeSeconds: checked(
    "JWT_MAX_TOKEN_LIFETIME",
    Config.duration("JWT_MAX_TOKEN_LIFETIME").pipe(Config.withDefault(Duration.days(30))),
    "must be between 1 minute and 365 days",
    (d) => Duration.toSeconds(d) >= 60 && Duration.toSeconds(d) <= 365 * 86_400
  ).pipe(Config.map((d) => Math.floor(Duration.toSeconds(d)))),
  allowHs256WithJwks: Config.boolean("JWT_ALLOW_HS256").pipe(Config.withDefault(false))
})
