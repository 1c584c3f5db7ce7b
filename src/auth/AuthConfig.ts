/**
 * Console token verification settings, read inside the auth layer. The HS256 secret comes
 * from `JwtSecret` (`JWT_SECRET`, or the development secret file — see src/admin/JwtSecret.ts).
 *
 *   JWKS_URL                 RS256 public keys of an identity provider (optional)
 *   JWT_ISSUER, JWT_AUDIENCE required `iss` / `aud` when set
 *   JWT_CLOCK_SKEW_SECONDS   tolerance for exp/nbf/iat, default 60
 */
import { checked } from "../config/AppConfig.js"
import { Config, type Option } from "effect"

export interface AuthSettings {
  readonly jwksUrl: Option.Option<string>
  readonly issuer: Option.Option<string>
  readonly audience: Option.Option<string>
  readonly clockSkewSeconds: number
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
  )
})
