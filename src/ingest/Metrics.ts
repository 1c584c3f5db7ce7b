/** Ingest metrics (Effect `Metric`, exported as Prometheus text at `/metrics`). */
import { Metric, MetricBoundaries } from "effect"

const seconds = MetricBoundaries.fromIterable([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10])

export const eventsReceived = Metric.counter("ingest_events_received_total", {
  description: "Events received, by type (before validation)",
  incremental: true
})

/** Tagged with `type`, `outcome` (accepted | duplicate | rejected) and, for rejections, `field`. */
export const eventsOutcome = Metric.counter("ingest_events_total", {
  description: "Event outcomes by type, outcome and rejected field",
  incremental: true
})

export const queueDepth = Metric.gauge("ingest_queue_depth", {
  description: "Events admitted and not yet committed"
})

export const batchSize = Metric.histogram(
  "ingest_batch_size",
  MetricBoundaries.fromIterable([1, 10, 50, 100, 250, 500, 1000, 2500, 5000]),
  "Events per database flush, by route"
)

export const flushDuration = Metric.histogram("ingest_flush_duration_seconds", seconds, "Duration of one flush, by route")

export const commitLag = Metric.histogram(
  "ingest_commit_lag_seconds",
  seconds,
  "Time from receiving an event to its database commit"
)

export const flushErrors = Metric.counter("ingest_flush_errors_total", {
  description: "Failed flush attempts (retried), by route",
  incremental: true
})

export const rejectedRequests = Metric.counter("ingest_requests_refused_total", {
  description: "Whole requests refused, by HTTP status",
  incremental: true
})

export const spilled = Metric.counter("ingest_spilled_total", {
  description: "Events written only to the disk journal (memory full or database failing)",
  incremental: true
})

export const replayed = Metric.counter("ingest_replayed_total", {
  description: "Events read back from the journal into the pipeline (drain rate = rate of this)",
  incremental: true
})

export const poisonEvents = Metric.counter("ingest_poison_events_total", {
  description: "Events the database refused on their own (isolated by bisection and dead-lettered), by route",
  incremental: true
})

export const writerDefects = Metric.counter("ingest_writer_defects_total", {
  description: "Defects caught in a route writer (its batch dead-lettered, the writer went on), by route",
  incremental: true
})

export const admissionRefused = Metric.counter("ingest_admission_refused_total", {
  description: "Events refused at admission (too deep, too large, unencodable) or journal records refused on replay",
  incremental: true
})
