/**
 * Cluster-wide stream state in JetStream KV (`REALTIME_BUS=nats`):
 *
 * - `TicketNonces`: bucket `<prefix>_tickets`, a key per redeemed nonce, created atomically
 *   (`create` fails when the key exists) and dropped by the bucket's TTL after the ticket expires.
 * - `StreamSlots`: bucket `<prefix>_stream_slots`, a key per user holding `{stream id: lease end}`,
 *   changed by compare-and-set on the key's revision, so two nodes cannot both take the last
 *   slot. Each node renews its streams' leases; a node that dies frees its slots when they lapse
 *   (NATS_SLOT_LEASE).
 *
 * Why KV and not PostgreSQL (measured with load/ticket-store-bench.ts, docs/scale-out.md): a KV
 * `create` costs about as much as an `INSERT … ON CONFLICT` (0.4–0.5 ms median vs 0.2–0.3 ms
 * unlogged, 0.5–3.3 ms logged, on the shared 2 cores), so latency does not decide; KV does because
 * it keeps this chatter off the database every ingest commit waits on, expires keys by itself
 * (no sweeper job), and is the same dependency the bus already needs.
 */
import { Clock, Duration, Effect, Layer, Option, Schedule } from "effect"
import { createHash, randomBytes } from "node:crypto"
import type { KV } from "nats"
import { Unauthorized } from "../../auth/Errors.js"
import { RealtimeSettingsConfig } from "../RealtimeConfig.js"
import { StreamSlots } from "../Streams.js"
import { TicketNonces } from "../Tickets.js"
import { NatsBus } from "./NatsBus.js"

const isConflict = (error: unknown): boolean => {
  const e = error as { message?: string; api_error?: { err_code?: number } }
  return e.api_error?.err_code === 10071 || /wrong last sequence|key exists/i.test(e.message ?? "")
}

const hashKey = (s: string) => createHash("sha256").update(s).digest("hex").slice(0, 40)

export const openBucket = (bus: NatsBus["Type"], name: string, ttl: Duration.Duration) =>
  Effect.tryPromise(() =>
    bus.js.views.kv(name, { ttl: Duration.toMillis(ttl), replicas: bus.settings.replicas, history: 1 })
  ).pipe(Effect.retry({ schedule: Schedule.spaced("500 millis"), times: 20 }), Effect.orDie)

export const makeKvTicketNonces = (kv: KV) =>
  TicketNonces.of({
    claim: (nonce) =>
      Effect.tryPromise({
        try: async () => {
          try {
            await kv.create(hashKey(nonce), "")
            return true
          } catch (error) {
            if (isConflict(error)) return false
            throw error
          }
        },
        catch: () => new Unauthorized({ message: "cannot check the stream ticket now (NATS unreachable); retry with a new ticket" })
      })
  })

export const KvTicketNoncesLive = Layer.effect(
  TicketNonces,
  Effect.gen(function*() {
    const bus = yield* NatsBus
    const { ticketTtl } = yield* RealtimeSettingsConfig
    const kv = yield* openBucket(bus, `${bus.settings.kvPrefix}_tickets`, Duration.sum(ticketTtl, Duration.seconds(10)))
    return makeKvTicketNonces(kv)
  })
)

type Leases = Record<string, number>

const MAX_CAS_ATTEMPTS = 20

/**
 * Slots in `kv`; leases last `leaseMs` and are renewed every third of it while the stream is open.
 * A KV failure lets the stream open (the limit is a guard against abuse, not a safety property):
 * refusing every stream while NATS fails over would be worse.
 */
export const makeKvStreamSlots = (kv: KV, leaseMs: number) =>
  Effect.gen(function*() {
    const nodeId = randomBytes(6).toString("hex")
    let counter = 0
    /** This node's open streams: user key → stream ids. */
    const mine = new Map<string, Set<string>>()

    /** Read-modify-write of a user's leases, retried on a concurrent change. */
    const change = (key: string, edit: (leases: Leases, now: number) => Leases | undefined) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.tryPromise(async () => {
          for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
            const entry = await kv.get(key)
            const current: Leases = entry === null || entry.operation !== "PUT" || entry.value.length === 0
              ? {}
              : (entry.json<Leases>() ?? {})
            for (const [id, until] of Object.entries(current)) if (until <= now) delete current[id]
            const next = edit(current, now)
            if (next === undefined) return false
            try {
              if (entry === null) await kv.create(key, JSON.stringify(next))
              else await kv.update(key, JSON.stringify(next), entry.revision)
              return true
            } catch (error) {
              if (!isConflict(error)) throw error
            }
          }
          throw new Error("stream slots: too many concurrent changes")
        })
      )

    const release = (key: string, id: string) =>
      Effect.suspend(() => {
        mine.get(key)?.delete(id)
        if (mine.get(key)?.size === 0) mine.delete(key)
        return change(key, (leases) => {
          delete leases[id]
          return leases
        }).pipe(Effect.ignore)
      })

    // Renew this node's leases, a user per CAS.
    yield* Effect.suspend(() =>
      Effect.forEach([...mine], ([key, ids]) =>
        change(key, (leases, now) => {
          for (const id of ids) leases[id] = now + leaseMs
          return leases
        }).pipe(Effect.ignore), { discard: true })
    ).pipe(Effect.schedule(Schedule.spaced(Duration.millis(Math.max(100, Math.floor(leaseMs / 3))))), Effect.forkScoped)

    return StreamSlots.of({
      acquire: (user, limit) => {
        const key = `u_${hashKey(user)}`
        const id = `${nodeId}-${++counter}`
        return change(key, (leases, now) => {
          if (Object.keys(leases).length >= limit) return undefined
          leases[id] = now + leaseMs
          return leases
        }).pipe(
          Effect.catchAll((error) =>
            Effect.logWarning("stream slots unavailable in NATS KV; the stream is allowed").pipe(
              Effect.annotateLogs({ error: String(error) }),
              Effect.as(true)
            )
          ),
          Effect.map((ok) => {
            if (!ok) return Option.none()
            const ids = mine.get(key) ?? new Set<string>()
            ids.add(id)
            mine.set(key, ids)
            return Option.some(release(key, id))
          })
        )
      }
    })
  })

export const KvStreamSlotsLive = Layer.scoped(
  StreamSlots,
  Effect.gen(function*() {
    const bus = yield* NatsBus
    const leaseMs = Duration.toMillis(bus.settings.slotLease)
    const kv = yield* openBucket(bus, `${bus.settings.kvPrefix}_stream_slots`, Duration.millis(leaseMs * 4))
    return yield* makeKvStreamSlots(kv, leaseMs)
  })
)
