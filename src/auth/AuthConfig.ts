/**
 * Console token verification settings, read inside the auth layer. The HS256 secret comes
 * from `JwtSecret` (`JWT_SECRET`, or the development secret file — see src/admin/JwtSecret.ts).
 *
 *   JWKS_URL                 RS256 public keys of an identity provider (optional)
 *   JWT_ISSUER, JWT_AUDIENCE required `iss` / `aud` when set
 *   JWT_CLOCK_SKEW_SECONDS   tolerance for exp/nbf/iat, default 60
 */
import { Config, type Option } from "effect"

export interface AuthSettings {
  readonly jwksUrl: Option.Option<string>
  readonly issuer: Option.Option<string>
  readonly audience: Option.Option<string>
  readonly clockSkewSeconds: number
}

const nonEmpty = (name: string) =>
  Config.string(name).pipe(Config.validate({ message: "must not be empty", validation: (s) => s.trim().length > 0 }))

export const AuthSettingsConfig: Config.Config<AuthSettings> = Config.all({
  jwksUrl: Config.option(
    nonEmpty("JWKS_URL").pipe(
      Config.validate({ message: "must be an http(s) URL", validation: (url) => /^https?:\/\/\S+$/.test(url) })
    )
  ),
  issuer: Config.option(nonEmpty("JWT_ISSUER")),
  audience: Config.option(nonEmpty("JWT_AUDIENCE")),
  clockSkewSeconds: Config.integer("JWT_CLOCK_SKEW_SECONDS").pipe(
    Config.withDefault(60),
    Config.validate({ message: "must be between 0 and 3600", validation: (n) => n >= 0 && n <= 3600 })
  )
})
