/** Metrics of the ingest stream (`INGEST_DURABILITY=jetstream`), exported with the others at `/metrics`. */
import { Metric, MetricBoundaries } from "effect"

const seconds = MetricBoundaries.fromIterable([0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5])

export const publishSeconds = Metric.histogram(
  "ingest_stream_publish_seconds",
  seconds,
  "From a request's admitted events to JetStream's acknowledgement of all of them (what the 202 waits for)"
)

export const published = Metric.counter("ingest_stream_published_total", {
  description: "Events stored in the ingest stream by this receiver",
  incremental: true
})

export const publishFailures = Metric.counter("ingest_stream_publish_failures_total", {
  description: "Requests answered 503 because the ingest stream did not store their events",
  incremental: true
})

export const consumed = Metric.counter("ingest_stream_consumed_total", {
  description: "Events taken from the ingest stream by this receiver's writers",
  incremental: true
})

export const redeliveries = Metric.counter("ingest_stream_redeliveries_total", {
  description: "Deliveries of a message delivered before (not acknowledged in time: a writer died, or the database was away)",
  incremental: true
})

export const ackFailures = Metric.counter("ingest_stream_ack_failures_total", {
  description: "Acknowledgements JetStream did not confirm (the message comes again; its events are then duplicates)",
  incremental: true
})

export const terminated = Metric.counter("ingest_stream_terminated_total", {
  description: "Messages terminated (never redelivered): unreadable, or every event refused by the database and dead-lettered",
  incremental: true
})

export const pullErrors = Metric.counter("ingest_stream_pull_errors_total", {
  description: "Failed pulls from the ingest stream's consumer",
  incremental: true
})

export const consumerPending = Metric.gauge("ingest_stream_consumer_pending", {
  description: "Messages in the ingest stream not yet delivered to any writer"
})

export const consumerAckPending = Metric.gauge("ingest_stream_consumer_ack_pending", {
  description: "Messages delivered to writers and not yet acknowledged"
})

export const streamBytes = Metric.gauge("ingest_stream_bytes", { description: "Bytes held by the ingest stream" })
