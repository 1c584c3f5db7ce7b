/**
 * The live stream feature, in two parts because they live at two levels of the root:
 *
 * - `RealtimeLive` (root): the hub, `CommittedEvents`, where tickets and stream slots are
 *   counted, and, in api processes, the cross-process feed. The ingest pipeline needs
 *   `CommittedEvents`, so this sits below it. Chosen by `REALTIME_BUS`:
 *     local (default)  in-process hub + PostgreSQL LISTEN/NOTIFY; tickets and slots per process
 *     nats             JetStream stream + KV (src/realtime/nats/, docs/scale-out.md)
 * - `RealtimeHttpFeature` (in `ApiLive`): handlers, stream registry, tickets, topic permissions.
 *   Inside the HTTP app on purpose: open streams are ended before the server closes.
 */
import { Effect, Layer } from "effect"
import { AuthLive } from "../auth/AuthenticationLive.js"
import { GatewayOwnership } from "./Access.js"
import { BridgeLive } from "./Bridge.js"
import { RealtimeHttpLive } from "./Http.js"
import { RealtimeHub } from "./Hub.js"
import { KvStreamSlotsLive, KvTicketNoncesLive } from "./nats/KvState.js"
import { NatsBus } from "./nats/NatsBus.js"
import { BusKindConfig } from "./nats/NatsConfig.js"
import { NatsCommittedEventsLive, NatsFeedLive, NatsHealthLive, NatsHubLive } from "./nats/NatsFeed.js"
import { StreamRegistry, StreamSlots } from "./Streams.js"
import { StreamTickets, TicketNonces } from "./Tickets.js"

export const RealtimeLocalLive = Layer.mergeAll(
  BridgeLive.pipe(Layer.provideMerge(RealtimeHub.Live)),
  TicketNonces.InMemory,
  StreamSlots.InMemory
)

export const RealtimeNatsLive = Layer.mergeAll(
  Layer.mergeAll(NatsCommittedEventsLive, NatsFeedLive).pipe(Layer.provideMerge(NatsHubLive)),
  KvTicketNoncesLive,
  KvStreamSlotsLive,
  NatsHealthLive
).pipe(Layer.provide(NatsBus.Live))

export const RealtimeLive = Layer.unwrapEffect(
  Effect.map(BusKindConfig, (bus) => (bus === "nats" ? RealtimeNatsLive : RealtimeLocalLive))
)

export const RealtimeHttpFeature = RealtimeHttpLive.pipe(
  Layer.provide(Layer.mergeAll(StreamRegistry.Live, StreamTickets.Live, GatewayOwnership.Live, AuthLive))
)
