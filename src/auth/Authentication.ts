/**
 * Bearer-token middleware for HttpApi groups. `Authentication` admits any valid console
 * token and provides the `CurrentPrincipal`; `VendorAuthentication`, `AgentAuthentication`
 * and `AdminAuthentication` also require the role and provide only what that role is (a
 * vendor id, an agent id), so a handler cannot even ask for another tenant's scope.
 * A 401 carries `WWW-Authenticate: Bearer` (RFC 6750); a 403 means the token was valid.
 *
 * Contract only (the API groups import it, and so may a client): the implementations are in
 * `AuthenticationLive.ts`.
 */
import * as HttpApiMiddleware from "@effect/platform/HttpApiMiddleware"
import * as HttpApiSecurity from "@effect/platform/HttpApiSecurity"
import * as OpenApi from "@effect/platform/OpenApi"
import { Context, Schema } from "effect"
import { Forbidden, Unauthorized } from "./Errors.js"
import type { Principal } from "./Principal.js"

export class CurrentPrincipal extends Context.Tag("Auth/CurrentPrincipal")<CurrentPrincipal, Principal>() {}
export class CurrentVendor extends Context.Tag("Auth/CurrentVendor")<CurrentVendor, {
  readonly vendorId: string
  readonly subject: string
}>() {}
export class CurrentAgent extends Context.Tag("Auth/CurrentAgent")<CurrentAgent, {
  readonly agentId: string
  readonly subject: string
}>() {}
export class CurrentAdmin extends Context.Tag("Auth/CurrentAdmin")<CurrentAdmin, { readonly subject: string }>() {}

/** One scheme object, so every group shares one `bearer` entry in the OpenAPI document. */
export const bearer = HttpApiSecurity.bearer.pipe(
  HttpApiSecurity.annotate(OpenApi.Format, "JWT"),
  HttpApiSecurity.annotate(
    OpenApi.Description,
    "Console JWT (HS256 shared secret or RS256 from the identity provider's JWKS) with claim `role` = vendor (+ `vendor_id`), agent (+ `agent_id`) or admin."
  )
)

const AuthFailure = Schema.Union(Unauthorized, Forbidden)

export class Authentication extends HttpApiMiddleware.Tag<Authentication>()("Auth/Authentication", {
  failure: Unauthorized,
  provides: CurrentPrincipal,
  security: { bearer }
}) {}

export class VendorAuthentication extends HttpApiMiddleware.Tag<VendorAuthentication>()("Auth/VendorAuthentication", {
  failure: AuthFailure,
  provides: CurrentVendor,
  security: { bearer }
}) {}

export class AgentAuthentication extends HttpApiMiddleware.Tag<AgentAuthentication>()("Auth/AgentAuthentication", {
  failure: AuthFailure,
  provides: CurrentAgent,
  security: { bearer }
}) {}

export class AdminAuthentication extends HttpApiMiddleware.Tag<AdminAuthentication>()("Auth/AdminAuthentication", {
  failure: AuthFailure,
  provides: CurrentAdmin,
  security: { bearer }
}) {}
