/** Metrics of the NATS bus (exported with the others as Prometheus text). */
import { Metric, MetricBoundaries } from "effect"

const seconds = MetricBoundaries.fromIterable([0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5])

export const publishSeconds = Metric.histogram(
  "realtime_bus_publish_seconds",
  seconds,
  "Publish lag: from a committed batch to JetStream's acknowledgement of all its events"
)

export const consumeLagSeconds = Metric.histogram(
  "realtime_bus_consume_lag_seconds",
  seconds,
  "Consume lag: from an event's commit to its arrival at this api node from the stream"
)

export const published = Metric.counter("realtime_bus_published_total", {
  description: "Events published to the JetStream stream",
  incremental: true
})

export const received = Metric.counter("realtime_bus_received_total", {
  description: "Events received from the JetStream stream by this api node",
  incremental: true
})

export const redeliveries = Metric.counter("realtime_bus_redeliveries_total", {
  description: "Stream messages delivered again to this node (consumer recreated after a NATS failover)",
  incremental: true
})

export const publishFailures = Metric.counter("realtime_bus_publish_failures_total", {
  description: "Committed batches given up on after retries: their events miss the live streams",
  incremental: true
})

export const errors = Metric.counter("realtime_bus_errors_total", {
  description: "Consumer restarts, undecodable messages and failed replays from the stream",
  incremental: true
})

export const streamBytes = Metric.gauge("realtime_bus_stream_bytes", { description: "Bytes held by the live-event stream" })

export const streamMessages = Metric.gauge("realtime_bus_stream_messages", {
  description: "Messages held by the live-event stream"
})

export const consumerPending = Metric.gauge("realtime_bus_consumer_pending", {
  description: "Stream messages this api node has not yet received (stream last seq − node's last seq)"
})
