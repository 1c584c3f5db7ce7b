/**
 * Partition creation (days ahead, around midnight UTC and month ends, healing the default
 * partition) and retention (boundaries, the rollup watermark guard, per-table retention).
 */
import { SqlClient } from "@effect/sql"
import { expect, layer } from "@effect/vitest"
import { Effect, Metric, MetricState } from "effect"
import * as M from "../../src/jobs/JobMetrics.js"
import { runJobOnce } from "../../src/jobs/Jobs.js"
import { at, ensureDays, jobsTestDatabase, markDirty, runnerLayer, setWatermark } from "./support.js"

const days = (table: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.map(
      sql<{ day: string }>`SELECT day::text AS day FROM list_daily_partitions(${table})`,
      (rows) => rows.map((row) => row.day).filter((day) => day < "2025-01-01")
    ))

const gaugeValue = (metric: Metric.Metric.Gauge<number>, table: string) =>
  Effect.map(Metric.value(Metric.tagged(metric, "table", table)), (state: MetricState.MetricState.Gauge<number>) => state.value)

const insertRaw = (eventTime: string, id: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`INSERT INTO telemetry_events (event_time, source, id, type, received_at)
        VALUES (${at(eventTime)}, 'test', ${id}, 'Unknown', now())`)

const partitionOf = (id: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.map(
      sql<{ part: string }>`SELECT tableoid::regclass::text AS part FROM telemetry_events WHERE id = ${id}`,
      (rows) => rows[0]?.part
    ))

layer(jobsTestDatabase(), { excludeTestServices: true })("partitions: created ahead", (it) => {
  it.effect("just before midnight UTC on a month end: today and 7 days ahead, both tables", () =>
    Effect.gen(function*() {
      const report = yield* runJobOnce("partitions", { now: at("2024-03-31T23:59:59.999Z") })
      expect(report.status, report.summary).toBe("ok")
      const expected = ["2024-03-31", "2024-04-01", "2024-04-02", "2024-04-03", "2024-04-04", "2024-04-05", "2024-04-06", "2024-04-07"]
      expect(yield* days("telemetry_events")).toEqual(expected)
      expect(yield* days("gateway_telemetry")).toEqual(expected)
      expect(report.summary).toContain("created telemetry_events partitions 2024-03-31 to 2024-04-07 (8 partition(s)")
    }))

  it.effect("at midnight the next day is added, only it", () =>
    Effect.gen(function*() {
      const report = yield* runJobOnce("partitions", { now: at("2024-04-01T00:00:00Z") })
      expect(report.summary).toContain("created gateway_telemetry partitions 2024-04-01 to 2024-04-08 (1 partition(s)")
      expect((yield* days("telemetry_events")).at(-1)).toBe("2024-04-08")
      const again = yield* runJobOnce("partitions", { now: at("2024-04-01T23:59:00Z") })
      expect(again.summary).toContain("(all existed) (0 partition(s)")
    }))

  it.effect("a leap day gets its own partition with exact UTC bounds", () =>
    Effect.gen(function*() {
      yield* runJobOnce("partitions", { now: at("2024-02-28T23:30:00Z") })
      expect((yield* days("telemetry_events")).slice(0, 8)).toEqual([
        "2024-02-28", "2024-02-29", "2024-03-01", "2024-03-02", "2024-03-03", "2024-03-04", "2024-03-05", "2024-03-06"
      ])
      yield* insertRaw("2024-02-29T23:59:59.999Z", "leap-last")
      yield* insertRaw("2024-03-01T00:00:00Z", "march-first")
      expect(yield* partitionOf("leap-last")).toBe("telemetry_events_p20240229")
      expect(yield* partitionOf("march-first")).toBe("telemetry_events_p20240301")
    }))

  it.effect("rows in the default partition: moved when their day is kept, otherwise a warning and a gauge", () =>
    Effect.gen(function*() {
      yield* insertRaw("2024-03-20T08:00:00Z", "parked")
      yield* insertRaw("2031-01-01T00:00:00Z", "far-future")
      expect(yield* partitionOf("parked")).toBe("telemetry_events_default")

      const dry = yield* runJobOnce("partitions", { now: at("2024-04-01T06:00:00Z"), dryRun: true })
      expect(dry.summary).toContain("would create telemetry_events partition 2024-03-20, moving its rows out of the default (1 row(s)")
      expect(yield* partitionOf("parked")).toBe("telemetry_events_default")

      const report = yield* runJobOnce("partitions", { now: at("2024-04-01T06:00:00Z") })
      expect(yield* partitionOf("parked")).toBe("telemetry_events_p20240320")
      expect(yield* partitionOf("far-future")).toBe("telemetry_events_default")
      expect(report.summary).toContain("1 row(s) in telemetry_events_default, outside every daily partition (days 2031-01-01 to 2031-01-01)")
      expect(yield* gaugeValue(M.defaultPartitionRows, "telemetry_events")).toBe(1)
      expect(yield* gaugeValue(M.defaultPartitionRows, "gateway_telemetry")).toBe(0)
    }))
})

layer(jobsTestDatabase(), { excludeTestServices: true })("partitions: retention", (it) => {
  const setup = Effect.gen(function*() {
    yield* ensureDays("telemetry_events", "2024-02-26", "2024-03-20")
    yield* ensureDays("gateway_telemetry", "2024-02-26", "2024-03-20")
  })

  it.effect("nothing is dropped before the rollup has ever run", () =>
    Effect.gen(function*() {
      yield* setup
      const report = yield* runJobOnce("retention", { now: at("2024-03-15T00:00:00Z") })
      expect(report.status, report.summary).toBe("ok")
      expect(report.summary).toContain("kept telemetry_events_p20240226 past retention: the rollup has not run yet")
      expect((yield* days("telemetry_events"))[0]).toBe("2024-02-26")
      expect(yield* gaugeValue(M.retentionWaitingPartitions, "gateway_telemetry")).toBe(4)
    }))

  it.effect("one second before midnight the 14th day back is kept; at midnight it goes", () =>
    Effect.gen(function*() {
      yield* setWatermark(at("2024-03-14T23:00:00Z"))
      const dry = yield* runJobOnce("retention", { now: at("2024-03-14T23:59:59Z"), dryRun: true })
      expect(dry.summary).toContain("would drop telemetry_events_p20240228")
      expect((yield* days("telemetry_events"))[0]).toBe("2024-02-26")

      const before = yield* runJobOnce("retention", { now: at("2024-03-14T23:59:59Z") })
      expect(before.status, before.summary).toBe("ok")
      expect((yield* days("telemetry_events"))[0]).toBe("2024-02-29")
      expect((yield* days("gateway_telemetry"))[0]).toBe("2024-02-29")
      expect(before.actions.filter((a) => a.what.startsWith("dropped")).map((a) => a.what)).toEqual([
        "dropped telemetry_events_p20240226", "dropped telemetry_events_p20240227", "dropped telemetry_events_p20240228",
        "dropped gateway_telemetry_p20240226", "dropped gateway_telemetry_p20240227", "dropped gateway_telemetry_p20240228"
      ])
      yield* runJobOnce("retention", { now: at("2024-03-15T00:00:00Z") })
      expect((yield* days("telemetry_events"))[0]).toBe("2024-03-01")
    }))

  it.effect("a partition the watermark has not passed is kept, and the job says why", () =>
    Effect.gen(function*() {
      yield* setWatermark(at("2024-03-01T12:00:00Z"))
      const report = yield* runJobOnce("retention", { now: at("2024-03-17T00:00:00Z") })
      expect(report.summary).toContain(
        "kept gateway_telemetry_p20240301 past retention: the rollup watermark 2024-03-01T12:00Z has not passed 2024-03-02T00:00Z"
      )
      expect((yield* days("gateway_telemetry"))[0]).toBe("2024-03-01")
      expect(yield* gaugeValue(M.retentionWaitingPartitions, "gateway_telemetry")).toBe(2)

      yield* setWatermark(at("2024-03-02T00:00:00Z"))
      yield* runJobOnce("retention", { now: at("2024-03-17T00:00:00Z") })
      expect((yield* days("gateway_telemetry"))[0]).toBe("2024-03-02")
    }))

  it.effect("a day with buckets waiting for recomputation is kept", () =>
    Effect.gen(function*() {
      yield* setWatermark(at("2024-03-10T00:00:00Z"))
      yield* markDirty("gw-1", at("2024-03-02T05:00:00Z"))
      const report = yield* runJobOnce("retention", { now: at("2024-03-17T00:00:00Z") })
      expect(report.summary).toContain("kept gateway_telemetry_p20240302 past retention: 1 bucket(s) of that day wait for recomputation")
      expect((yield* days("gateway_telemetry"))[0]).toBe("2024-03-02")
      const sql = yield* SqlClient.SqlClient
      yield* sql`DELETE FROM rollup_dirty`
    }))

  it.effect("retention is set per table", () =>
    Effect.gen(function*() {
      const report = yield* runJobOnce("retention", { now: at("2024-03-20T00:00:00Z") }).pipe(
        Effect.provide(runnerLayer({ retentionRawDays: 16, retentionTelemetryDays: 14 }))
      )
      expect(report.status, report.summary).toBe("ok")
      expect((yield* days("telemetry_events"))[0]).toBe("2024-03-04")
      expect((yield* days("gateway_telemetry"))[0]).toBe("2024-03-06")
    }))
})
