/**
 * Single-use stream tickets, so a browser's `EventSource` (which cannot send headers) never puts
 * a long-lived token in a URL. A ticket is the caller's principal, sealed with AES-256-GCM under
 * a key derived from the console's HS256 secret: any API process sharing that secret accepts it,
 * no store is needed, and its contents (ids, expiry) are not readable in proxy logs.
 *
 * Single use is enforced by `TicketNonces`, chosen by the bus: in memory (one process: redeemed
 * nonces kept until they expire), or a JetStream KV bucket with a TTL (`REALTIME_BUS=nats`: a
 * ticket redeemed on one api node is refused on every other) — see docs/scale-out.md.
 */
import { Clock, Context, Duration, Effect, Layer, Schema } from "effect"
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from "node:crypto"
import { JwtSecret, JwtSecretLive } from "../auth/JwtSecret.js"
import { Unauthorized } from "../auth/Errors.js"
import type { Principal } from "../auth/Principal.js"
import { type Secret, secretBytes } from "../identity/Secret.js"
import { RealtimeSettingsConfig } from "./RealtimeConfig.js"

const Base = { subject: Schema.String, expiresAt: Schema.Number }
const PrincipalSchema = Schema.Union(
  Schema.Struct({ ...Base, role: Schema.Literal("admin") }),
  Schema.Struct({ ...Base, role: Schema.Literal("vendor"), vendorId: Schema.String }),
  Schema.Struct({ ...Base, role: Schema.Literal("agent"), agentId: Schema.String })
)

const TicketBody = Schema.parseJson(Schema.Struct({
  v: Schema.Literal(1),
  /** Nonce: the ticket's identity for single use. */
  n: Schema.String,
  /** Ticket expiry, epoch ms. */
  x: Schema.Number,
  p: PrincipalSchema
}))

/** Where redeemed nonces are remembered until their ticket expires. */
export class TicketNonces extends Context.Tag("Realtime/TicketNonces")<TicketNonces, {
  /** True the first time `nonce` is claimed; false ever after (until it expires). Fails when the store cannot say. */
  readonly claim: (nonce: string, expiresAtMs: number) => Effect.Effect<boolean, Unauthorized>
}>() {
  /** This process only. */
  static readonly inMemory = Effect.sync(() => {
    const redeemed = new Map<string, number>()
    const sweep = (now: number) => {
      for (const [nonce, expires] of redeemed) if (expires <= now) redeemed.delete(nonce)
    }
    return TicketNonces.of({
      claim: (nonce, expiresAtMs) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          if (redeemed.has(nonce)) return false
          if (redeemed.size >= 1000) sweep(now)
          redeemed.set(nonce, expiresAtMs)
          return true
        })
    })
  })

  static readonly InMemory = Layer.effect(TicketNonces, TicketNonces.inMemory)
}

export class StreamTickets extends Context.Tag("Realtime/StreamTickets")<StreamTickets, {
  readonly issue: (principal: Principal) => Effect.Effect<{ readonly ticket: string; readonly expiresAtMs: number }>
  /** The principal, once; a second use, a forged or an expired ticket is a 401. */
  readonly redeem: (ticket: string) => Effect.Effect<Principal, Unauthorized>
}>() {
  static readonly make = (secret: Secret, ttl: Duration.DurationInput, nonces?: TicketNonces["Type"]) =>
    nonces === undefined
      ? Effect.flatMap(TicketNonces.inMemory, (inMemory) => makeTickets(secret, ttl, inMemory))
      : makeTickets(secret, ttl, nonces)

  /** Needs `TicketNonces` (from the bus layer). */
  static readonly Live = Layer.effect(
    StreamTickets,
    Effect.gen(function*() {
      const settings = yield* RealtimeSettingsConfig
      const { secret } = yield* JwtSecret
      return yield* makeTickets(secret, settings.ticketTtl, yield* TicketNonces)
    })
  ).pipe(Layer.provide(JwtSecretLive))
}

const IV_BYTES = 12
const TAG_BYTES = 16
const MAX_TICKET_LENGTH = 2048

const makeTickets = (secret: Secret, ttl: Duration.DurationInput, nonces: TicketNonces["Type"]) =>
  Effect.sync(() => {
    const key = createHmac("sha256", secretBytes(secret)).update("machpay-telemetry/sse-ticket/v1").digest()
    const ttlMs = Duration.toMillis(Duration.decode(ttl))
    const invalid = new Unauthorized({ message: "invalid stream ticket; get a new one from POST /v1/telemetry/tickets" })

    const seal = (plain: string): string => {
      const iv = randomBytes(IV_BYTES)
      const cipher = createCipheriv("aes-256-gcm", key, iv)
      const body = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()])
      return Buffer.concat([iv, body, cipher.getAuthTag()]).toString("base64url")
    }

    const open = (ticket: string): string | undefined => {
      if (ticket.length > MAX_TICKET_LENGTH || !/^[A-Za-z0-9_-]+$/.test(ticket)) return undefined
      const bytes = Buffer.from(ticket, "base64url")
      if (bytes.length <= IV_BYTES + TAG_BYTES) return undefined
      try {
        const decipher = createDecipheriv("aes-256-gcm", key, bytes.subarray(0, IV_BYTES))
        decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES))
        return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES)), decipher.final()])
          .toString("utf8")
      } catch {
        return undefined
      }
    }

    return StreamTickets.of({
      issue: (principal) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          // A ticket never outlives the token it was issued for.
          const expiresAtMs = Math.min(now + ttlMs, principal.expiresAt * 1000)
          const body = { v: 1, n: randomBytes(16).toString("base64url"), x: expiresAtMs, p: principal }
          return { ticket: seal(JSON.stringify(body)), expiresAtMs }
        }),
      redeem: (ticket) =>
        Effect.gen(function*() {
          const plain = open(ticket)
          if (plain === undefined) return yield* Effect.fail(invalid)
          const body = yield* Schema.decodeUnknown(TicketBody)(plain).pipe(Effect.mapError(() => invalid))
          const now = yield* Clock.currentTimeMillis
          if (body.x <= now) {
            return yield* Effect.fail(new Unauthorized({ message: "the stream ticket has expired; get a new one" }))
          }
          if (!(yield* nonces.claim(body.n, body.x))) {
            return yield* Effect.fail(new Unauthorized({ message: "the stream ticket was already used; get a new one" }))
          }
          return body.p
        })
    })
  })
