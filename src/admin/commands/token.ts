/** `token mint`: a development console token for an existing vendor or agent, or an admin. */
import { Clock, Effect, Option } from "effect"
import { AuthSettingsConfig } from "../../auth/AuthConfig.js"
import { claimsFor, signJwt } from "../../identity/Jwt.js"
import { requireAgent, requireVendor } from "../AdminRepo.js"
import type { TokenPrincipal } from "../Command.js"
import { resolveJwtSecret } from "../../auth/JwtSecret.js"
import { json, type Output } from "./format.js"

const describeTtl = (seconds: number): string =>
  seconds % 86_400 === 0 && seconds > 86_400 ? `${seconds / 86_400}d` : seconds % 3600 === 0 ? `${seconds / 3600}h` : `${seconds / 60}m`

const whom = (principal: TokenPrincipal): string => {
  switch (principal.role) {
    case "admin":
      return "admin"
    case "vendor":
      return `vendor ${principal.vendorId}`
    case "agent":
      return `agent ${principal.agentId}`
  }
}

export const tokenMint = Effect.fn("Cli.tokenMint")(function*(input: {
  readonly principal: TokenPrincipal
  readonly ttlSeconds: number
  readonly json: boolean
}) {
  const { principal } = input
  if (principal.role === "vendor") yield* requireVendor(principal.vendorId)
  if (principal.role === "agent") yield* requireAgent(principal.agentId)
  const { secret, source } = yield* resolveJwtSecret
  // A server with JWT_ISSUER / JWT_AUDIENCE requires them in every token, so ours carry them too.
  const { audience, issuer } = yield* AuthSettingsConfig
  const now = (yield* Clock.currentTimeMillis) / 1000
  const claims = claimsFor(principal, {
    now,
    ttlSeconds: input.ttlSeconds,
    ...Option.match(issuer, { onNone: () => ({}), onSome: (iss) => ({ issuer: iss }) }),
    ...Option.match(audience, { onNone: () => ({}), onSome: (aud) => ({ audience: aud }) })
  })
  const token = yield* signJwt(claims, { alg: "HS256", secret })
  const expiresAt = new Date(claims.exp * 1000).toISOString()
  if (input.json) {
    return json({ token, role: claims.role, subject: claims.sub, vendorId: claims.vendor_id ?? null, agentId: claims.agent_id ?? null, expiresAt })
  }
  return [
    `token for ${whom(principal)} (subject ${JSON.stringify(claims.sub)}), valid ${describeTtl(input.ttlSeconds)} until ${expiresAt}`,
    source._tag === "DevFile"
      ? `signed with the development secret in ${source.path} (set JWT_SECRET for real deployments)`
      : "signed with JWT_SECRET",
    token
  ] satisfies Output
})
