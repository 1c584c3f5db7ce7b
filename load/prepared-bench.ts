/**
 * What preparing a flush statement would save PostgreSQL: the store's own statement for a route,
 * run alternately unnamed (parsed and planned on every call, as the `SqlClient` sends it) and
 * named (parsed once on the connection; after five calls PostgreSQL may keep one generic plan),
 * each call with a fresh batch of new events, on one connection to a new migrated database.
 * Prints the median time per call. Why the store does not name its statements: docs/ingest.md →
 * "Tried on 2026-12-07 and not kept".
 *
 *   npx tsx load/prepared-bench.ts [--route PaymentAuthorized] [--events 100] [--rounds 40]
 *
 * The batch is built by the store itself (the statement text and its parameter are captured
 * from `EventStorePg` over a recording `SqlClient`), so the figures are for exactly what a flush
 * sends.
 */
import { Effect, Either, Layer } from "effect"
import { randomBytes } from "node:crypto"
import { execFileSync } from "node:child_process"
import pg from "pg"
import {
  gatewayTelemetryPacketData,
  paymentAuthorizedData,
  paymentIntentData,
  requestBlockedData,
  solvencyAlertData
} from "../schema/examples.js"
import { EventStore } from "../src/ingest/EventStore.js"
import { EventStorePg } from "../src/ingest/EventStorePg.js"
import type { IngestEvent, Route } from "../src/ingest/IngestEvent.js"
import { validateCandidate } from "../src/ingest/Validate.js"
import { SqlClient } from "@effect/sql"
import { parseOptions } from "./lib/args.js"

const args = parseOptions({
  "admin-url": "postgres://postgres@127.0.0.1:5432/postgres",
  route: "PaymentAuthorized",
  events: "100",
  rounds: "40"
})
const route = args.route as Exclude<Route, "PaymentIntent">
const DATA: Record<string, object> = {
  PaymentAuthorized: paymentAuthorizedData,
  RequestBlocked: requestBlockedData,
  SolvencyAlert: solvencyAlertData,
  PaymentIntent: paymentIntentData,
  GatewayTelemetryPacket: gatewayTelemetryPacketData,
  Other: { note: "an event type the receiver only logs" }
}

const eventOf = (id: string): IngestEvent => {
  const time = new Date(Date.now() - 1_000).toISOString()
  const type = route === "Other" ? "GatewayHeartbeat" : route
  const data = route === "GatewayTelemetryPacket"
    ? { ...DATA[route], gateway_id: "gw-bench", window_start: time, packet_id: `pkt-${id}` }
    : { ...DATA[route], gateway_id: "gw-bench" }
  const wire = { specversion: "1.0", id, source: "machpay://gateway/gw-bench", type, time, datacontenttype: "application/json", data }
  return Either.getOrThrow(validateCandidate({ index: 0, value: wire }, { gatewayId: "gw-bench", now: Date.now(), maxAgeMs: 1e15, maxSkewMs: 1e15 }))
}

/** The statement text and batch parameter the store sends for `events` (over a recording client). */
const captureFlush = (events: ReadonlyArray<IngestEvent>): { readonly text: string; readonly values: Array<unknown> } => {
  let sent: { readonly text: string; readonly values: Array<unknown> } | undefined
  const recording = {
    unsafe: (text: string, values: ReadonlyArray<unknown>) => {
      sent = { text, values: [...values] }
      return Effect.succeed([])
    }
  } as unknown as SqlClient.SqlClient
  Effect.runSync(Effect.flatMap(EventStore, (store) => Effect.either(store.write(route, events, undefined))).pipe(
    Effect.provide(EventStorePg.pipe(Layer.provide(Layer.succeed(SqlClient.SqlClient, recording))))
  ))
  return sent!
}

const main = async () => {
  const name = `prepared_bench_${randomBytes(4).toString("hex")}`
  const admin = new pg.Client({ connectionString: args["admin-url"] })
  await admin.connect()
  await admin.query(`CREATE DATABASE "${name}"`)
  const url = Object.assign(new URL(args["admin-url"]), { pathname: `/${name}` }).toString()
  try {
    execFileSync("npx", ["tsx", "src/main.ts", "migrate"], { env: { ...process.env, DATABASE_URL: url, LOG_LEVEL: "Error" }, stdio: "ignore" })
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    const n = Number(args.events)
    let round = 0
    const batch = () => captureFlush(Array.from({ length: n }, (_, i) => eventOf(`b${round}-${i}`)))
    const times = { unnamed: [] as Array<number>, named: [] as Array<number> }
    for (let i = 0; i < Number(args.rounds); i++) {
      for (const kind of ["unnamed", "named"] as const) {
        round += 1
        const flush = batch()
        const config: pg.QueryConfig = kind === "named" ? { name: "flush", ...flush } : flush
        const started = performance.now()
        await client.query(config)
        times[kind].push(performance.now() - started)
      }
    }
    const median = (list: Array<number>) => [...list].sort((a, b) => a - b)[list.length >> 1]!.toFixed(2)
    console.log(`${route}, ${n} events per statement, ${args.rounds} rounds: unnamed median ${median(times.unnamed)} ms, named median ${median(times.named)} ms`)
    await client.end()
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
    await admin.end()
  }
}

void main()
