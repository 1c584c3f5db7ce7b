/** Live stream metrics (Effect `Metric`, exported with the others as Prometheus text). */
import { Metric, MetricBoundaries } from "effect"

/** Open streams by topic kind (ticker | vendor | agent); a stream with several kinds counts in each. */
export const clients = Metric.gauge("realtime_clients", {
  description: "Connected SSE streams, by topic kind"
})

export const messagesSent = Metric.counter("realtime_messages_sent_total", {
  description: "SSE event messages handed to client sockets (live and replayed)",
  incremental: true
})

export const slowConsumerDrops = Metric.counter("realtime_slow_consumer_drops_total", {
  description: "Streams closed because the client did not keep up with its send buffer",
  incremental: true
})

export const commitToSend = Metric.histogram(
  "realtime_commit_to_send_seconds",
  MetricBoundaries.fromIterable([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]),
  "Time from an event's database commit to its write to a client socket (live messages)"
)

/** Tagged with `status` (400, 401, 403, 429). */
export const refused = Metric.counter("realtime_streams_refused_total", {
  description: "Stream requests refused, by HTTP status",
  incremental: true
})

/** Tagged with `reason` (cursor_too_old, cursor_unknown, stream_interrupted). */
export const resets = Metric.counter("realtime_resets_total", {
  description: "reset messages sent (the client must reload through REST)",
  incremental: true
})

/** Tagged with `direction` (sent | received) and `mode` (inline | keys). */
export const bridgeNotifications = Metric.counter("realtime_bridge_notifications_total", {
  description: "Cross-process NOTIFY messages",
  incremental: true
})

export const bridgeUnsent = Metric.counter("realtime_bridge_unsent_batches_total", {
  description: "Committed batches not sent to other processes because none listens",
  incremental: true
})

export const bridgeListeners = Metric.gauge("realtime_bridge_listeners", {
  description: "Other processes listening for this receiver's committed events, as last read"
})

export const bridgeErrors = Metric.counter("realtime_bridge_errors_total", {
  description: "Failed NOTIFY sends, undecodable notifications and LISTEN reconnects",
  incremental: true
})
