/**
 * The bearer middleware implementations (the tags are in `Authentication.ts`, with the
 * contract), over the `Authenticator`.
 */
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Effect, Layer, Redacted } from "effect"
import {
  AdminAuthentication,
  AgentAuthentication,
  Authentication,
  VendorAuthentication
} from "./Authentication.js"
import { Authenticator, AuthenticatorLive } from "./Authenticator.js"
import { Forbidden } from "./Errors.js"
import type { Principal } from "./Principal.js"

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
