/**
 * Bearer-token middleware for HttpApi groups. `Authentication` admits any valid console
 * token and provides the `CurrentPrincipal`; `VendorAuthentication`, `AgentAuthentication`
 * and `AdminAuthentication` also require the role and provide only what that role is (a
 * vendor id, an agent id), so a handler cannot even ask for another tenant's scope.
 * A 401 carries `WWW-Authenticate: Bearer` (RFC 6750); a 403 means the token was valid.
 */
import { HttpApiMiddleware, HttpApiSecurity, HttpApp, HttpServerResponse, OpenApi } from "@effect/platform"
import { Context, Effect, Layer, Redacted, Schema } from "effect"
import type { Principal } from "../identity/Jwt.js"
import { Authenticator, AuthenticatorLive } from "./Authenticator.js"
import { Forbidden, Unauthorized } from "./Errors.js"

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

const challenge = HttpApp.appendPreResponseHandler((_request, response) =>
  Effect.succeed(
    response.status === 401
      ? HttpServerResponse.setHeader(response, "www-authenticate", "Bearer realm=\"machpay-console\"")
      : response
  )
)

const forbidden = (role: Principal["role"], needed: string) =>
  new Forbidden({ message: `this endpoint is for ${needed} tokens; the token's role is ${role}` })

/** The four middleware implementations over the `Authenticator`. */
export const AuthenticationLive = Layer.unwrapEffect(
  Effect.gen(function*() {
    const authenticator = yield* Authenticator
    const verify = (token: Redacted.Redacted<string>) =>
      authenticator.authenticate(Redacted.value(token)).pipe(Effect.tapError(() => challenge))
    return Layer.mergeAll(
      Layer.succeed(Authentication, { bearer: verify }),
      Layer.succeed(VendorAuthentication, {
        bearer: (token) =>
          Effect.flatMap(verify(token), (p) =>
            p.role === "vendor"
              ? Effect.succeed({ vendorId: p.vendorId, subject: p.subject })
              : Effect.fail(forbidden(p.role, "vendor")))
      }),
      Layer.succeed(AgentAuthentication, {
        bearer: (token) =>
          Effect.flatMap(verify(token), (p) =>
            p.role === "agent"
              ? Effect.succeed({ agentId: p.agentId, subject: p.subject })
              : Effect.fail(forbidden(p.role, "agent")))
      }),
      Layer.succeed(AdminAuthentication, {
        bearer: (token) =>
          Effect.flatMap(verify(token), (p) =>
            p.role === "admin" ? Effect.succeed({ subject: p.subject }) : Effect.fail(forbidden(p.role, "admin")))
      })
    )
  })
)

/** The middleware plus the `Authenticator` (for endpoints that get the token another way). */
export const AuthLive = AuthenticationLive.pipe(Layer.provideMerge(AuthenticatorLive))
