/**
 * Cross-process delivery with the real server: the `npm start` bundle started twice on one fresh
 * database, once with ROLES=receiver and once with ROLES=api. Events posted to the receiver's
 * `/v1/ingest` reach an SSE client of the api process through LISTEN/NOTIFY — a small batch
 * inline in the notification, a large one as keys read back from `telemetry_events`.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Schedule } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { serverArgs } from "../../scripts/build.js"
import { claimsFor } from "../../src/identity/Jwt.js"
import { signHs256 } from "../../testkit/jwt.js"
import { createDatabase, databaseUrl, queryOnce as query, seedGateway } from "../support/database.js"
import { freePort } from "../support/helpers.js"
import { wireEvent } from "../support/ingestEvents.js"
import { startFreezableProxy, throughProxy } from "../support/freezableProxy.js"
import { openSse } from "./sse.js"

const SECRET = "two-process-secret-two-process-secret!!"


interface Server {
  readonly base: string
  readonly output: () => string
}

/** Starts the real server; stops it (SIGTERM, then SIGKILL) when the scope closes. */
const startServer = (roles: string, url: string, dataDir: string, env: Readonly<Record<string, string>> = {}) =>
  Effect.gen(function*() {
    const port = yield* Effect.promise(freePort)
    let output = ""
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const child: ChildProcess = spawn(process.execPath, [...serverArgs()], {
          cwd: process.cwd(),
          env: {
            PATH: process.env["PATH"] ?? "",
            DATABASE_URL: url,
            PORT: String(port),
            HOST: "127.0.0.1",
            ROLES: roles,
            JWT_SECRET: SECRET,
            DATA_DIR: path.join(dataDir, roles),
            LOG_LEVEL: "Warning",
            ...env
          },
          stdio: ["ignore", "pipe", "pipe"]
        })
        child.stdout?.on("data", (chunk: Buffer) => void (output += chunk.toString()))
        child.stderr?.on("data", (chunk: Buffer) => void (output += chunk.toString()))
        return child
      }),
      (child) =>
        Effect.async<void>((resume) => {
          if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
          const timer = setTimeout(() => child.kill("SIGKILL"), 10_000)
          child.once("exit", () => {
            clearTimeout(timer)
            resume(Effect.void)
          })
          child.kill("SIGTERM")
        })
    )
    const base = `http://127.0.0.1:${port}`
    // Bounded: a request accepted while the server is still wiring its handlers is never answered.
    yield* Effect.tryPromise(() => fetch(`${base}/health/ready`, { signal: AbortSignal.timeout(1000) })).pipe(
      Effect.filterOrFail((response) => response.status === 200),
      Effect.retry({ schedule: Schedule.spaced("200 millis"), times: 200 }),
      Effect.mapError(() => new Error(`${roles} server did not become ready:\n${output}`)),
      Effect.orDie
    )
    // An api process counts as listening once receivers have seen it (Presence.ts): streams opened
    // before then get a reset, so the tests start theirs after it.
    if (roles.split(",").includes("api")) yield* listening(base, () => output)
    return { base, output: () => output, pid: child.pid } satisfies Server & { pid: number | undefined }
  })

const listening = (base: string, output: () => string) =>
  Effect.tryPromise(() =>
    fetch(`${base}/health`, { signal: AbortSignal.timeout(1000) }).then((r) =>
      r.json() as Promise<{ components?: Record<string, { status: string }> }>
    )
  ).pipe(
    Effect.filterOrFail((health) => health.components?.["realtime"]?.status === "ok"),
    Effect.retry({ schedule: Schedule.spaced("100 millis"), times: 300 }),
    Effect.mapError(() => new Error(`the api process did not start listening:\n${output()}`)),
    Effect.orDie
  )

const metric = (base: string, pattern: RegExp) =>
  Effect.promise(() => fetch(`${base}/metrics`).then((r) => r.text())).pipe(
    Effect.map((text) => Number(pattern.exec(text)?.[1] ?? 0))
  )
/** Until the receiver's last reading of how many other processes listen is `n`. */
const listenersSeen = (base: string, n: number) =>
  Effect.promise(() => fetch(`${base}/metrics`).then((r) => r.text())).pipe(
    Effect.filterOrFail((text) => /^realtime_bridge_listeners(?:\{[^}]*\})? (\d+)/m.exec(text)?.[1] === String(n)),
    Effect.retry({ schedule: Schedule.spaced("50 millis"), times: 200 }),
    Effect.orDie
  )
/** Counted after the commit is acknowledged (the batch is published after it): read until it is `n`. */
const reaches = (base: string, pattern: RegExp, n: number) =>
  metric(base, pattern).pipe(
    Effect.filterOrFail((value) => value >= n, (value) => value),
    Effect.retry({ schedule: Schedule.spaced("50 millis"), times: 100 }),
    Effect.catchAll((value) => Effect.succeed(value))
  )
const SENT = /^realtime_bridge_notifications_total\{[^}]*direction="sent"[^}]*\} (\d+)/m
const UNSENT = /^realtime_bridge_unsent_batches_total(?:\{[^}]*\})? (\d+)/m

/** A new database and a data directory (removed with the scope) for the processes of one test. */
const databaseAndDataDir = (prefix: string) =>
  Effect.gen(function*() {
    const url = databaseUrl(yield* createDatabase(prefix))
    const dataDir = yield* Effect.acquireRelease(
      Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), `machpay-${prefix}-`))),
      (dir) => Effect.promise(() => fs.rm(dir, { recursive: true, force: true }))
    )
    return { url, dataDir }
  })

/** Posts one payment of `gateway` to `base`, waiting for the commit; the status. */
const postWaiting = (base: string, key: string, gateway: string) => (id: string) =>
  Effect.promise(() =>
    fetch(`${base}/v1/ingest`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/cloudevents+json", prefer: "wait=commit" },
      body: JSON.stringify(wireEvent("PaymentAuthorized", { id, time: new Date().toISOString(), gateway }))
    }).then((response) => response.status)
  )

describe("two processes on one database", () => {
  it.live("events ingested by a receiver process reach SSE clients of an api process", () =>
    Effect.gen(function*() {
      const { url, dataDir } = yield* databaseAndDataDir("rt2p")
      const [receiver, api] = yield* Effect.all([startServer("receiver", url, dataDir), startServer("api", url, dataDir)], {
        concurrency: 2
      })

      const key = yield* Effect.promise(() => seedGateway(url, "gw-2p"))

      expect((yield* Effect.promise(() => fetch(`${receiver.base}/v1/telemetry/live?topics=ticker`))).status).toBe(404)
      const jwt = signHs256(claimsFor({ role: "vendor", vendorId: "v1" }, { now: Date.now() / 1000, ttlSeconds: 600 }), SECRET)
      const stream = yield* Effect.promise(() =>
        openSse(`${api.base}/v1/telemetry/live?topics=vendor:gw-2p,ticker`, { authorization: `Bearer ${jwt}` })
      )
      expect(stream.status).toBe(200)

      const time = new Date().toISOString()
      const post = (body: unknown, batch: boolean) =>
        Effect.promise(() =>
          fetch(`${receiver.base}/v1/ingest`, {
            method: "POST",
            headers: {
              authorization: `Bearer ${key}`,
              "content-type": batch ? "application/cloudevents-batch+json" : "application/cloudevents+json",
              prefer: "wait=commit"
            },
            body: JSON.stringify(body)
          }).then(async (response) => ({ status: response.status, body: await response.text() }))
        )

      const one = yield* post(wireEvent("PaymentAuthorized", { id: "two-p-1", time, gateway: "gw-2p" }), false)
      expect(one.status, one.body).toBe(200)
      yield* Effect.promise(() => stream.until((m) => m.length >= 1, 15_000))
      expect(stream.messages[0]?.event).toBe("PaymentAuthorized")
      expect(JSON.parse(stream.messages[0]?.data ?? "{}")).toMatchObject({ id: "two-p-1", gateway_id: "gw-2p" })

      // Sixty events in one commit do not fit in 8000 bytes: they travel as keys and are read back.
      const many = Array.from({ length: 60 }, (_, i) =>
        wireEvent("RequestBlocked", { id: `two-b-${String(i).padStart(2, "0")}`, time, gateway: "gw-2p" }))
      const batch = yield* post(many, true)
      expect(batch.status, batch.body).toBe(200)
      yield* Effect.promise(() => stream.until((m) => m.length >= 61, 15_000))
      expect(stream.messages.slice(1).map((m) => JSON.parse(m.data).id)).toEqual(many.map((e) => e["id"]))
      expect(new Set(stream.messages.map((m) => m.id)).size).toBe(61)
      stream.close()
    }).pipe(Effect.scoped), { timeout: 120_000 })

  it.live("an api process whose LISTEN connection hangs notices it by its probe: streams get a reset, then events flow again", () =>
    Effect.gen(function*() {
      const { url, dataDir } = yield* databaseAndDataDir("rt2h")
      const proxy = yield* Effect.acquireRelease(Effect.promise(() => startFreezableProxy(new URL(url))), (p) => Effect.sync(p.close))
      const [receiver, api] = yield* Effect.all([
        startServer("receiver", url, dataDir),
        startServer("api", throughProxy(url, proxy), dataDir, { SSE_LISTEN_PROBE_INTERVAL: "1 second" })
      ], { concurrency: 2 })

      const key = yield* Effect.promise(() => seedGateway(url, "gw-2h"))
      const jwt = signHs256(claimsFor({ role: "vendor", vendorId: "v1" }, { now: Date.now() / 1000, ttlSeconds: 600 }), SECRET)
      const stream = yield* Effect.promise(() =>
        openSse(`${api.base}/v1/telemetry/live?topics=vendor:gw-2h`, { authorization: `Bearer ${jwt}` })
      )
      expect(stream.status).toBe(200)
      const post = postWaiting(receiver.base, key, "gw-2h")

      expect(yield* post("before-freeze")).toBe(200)
      yield* Effect.promise(() => stream.until((m) => m.length >= 1, 15_000))
      // Every connection the api process holds now hangs: no error, no answer.
      proxy.freeze()
      yield* Effect.promise(() => stream.until((m) => m.some((message) => message.event === "reset"), 15_000))
      const reset = stream.messages.find((message) => message.event === "reset")
      expect(JSON.parse(reset?.data ?? "{}")).toMatchObject({ reason: "stream_interrupted" })
      // The new LISTEN connection carries what commits next, to the same open stream.
      expect(yield* post("after-freeze")).toBe(200)
      yield* Effect.promise(() => stream.until((m) => m.filter((message) => message.event === "PaymentAuthorized").length >= 2, 15_000))
      expect(stream.messages.filter((m) => m.event === "PaymentAuthorized").map((m) => JSON.parse(m.data).id)).toEqual([
        "before-freeze",
        "after-freeze"
      ])
      stream.close()
    }).pipe(Effect.scoped), { timeout: 120_000 })

  it.live("a receiver sends notifications only while an api process listens", () =>
    Effect.gen(function*() {
      const { url, dataDir } = yield* databaseAndDataDir("rt2n")
      const receiver = yield* startServer("receiver", url, dataDir)
      const key = yield* Effect.promise(() => seedGateway(url, "gw-2n"))
      const post = postWaiting(receiver.base, key, "gw-2n")

      // Nobody listens: committed, not notified.
      yield* listenersSeen(receiver.base, 0)
      expect(yield* post("alone-1")).toBe(200)
      expect(yield* reaches(receiver.base, UNSENT, 1)).toBe(1)
      expect(yield* metric(receiver.base, SENT)).toBe(0)

      // An api process listens: the next commit reaches its stream.
      yield* Effect.gen(function*() {
        const api = yield* startServer("api", url, dataDir)
        const jwt = signHs256(claimsFor({ role: "vendor", vendorId: "v1" }, { now: Date.now() / 1000, ttlSeconds: 600 }), SECRET)
        const stream = yield* Effect.promise(() =>
          openSse(`${api.base}/v1/telemetry/live?topics=vendor:gw-2n`, { authorization: `Bearer ${jwt}` })
        )
        expect(stream.status).toBe(200)
        expect(yield* post("heard-1")).toBe(200)
        yield* Effect.promise(() => stream.until((m) => m.length >= 1, 15_000))
        expect(stream.messages.map((m) => [m.event, JSON.parse(m.data).id])).toEqual([["PaymentAuthorized", "heard-1"]])
        expect(yield* reaches(receiver.base, SENT, 1)).toBeGreaterThanOrEqual(1)
        yield* listenersSeen(receiver.base, 1)
        stream.close()
      }).pipe(Effect.scoped)

      // The api process stopped and took its row with it: the receiver stops notifying.
      const rows = yield* Effect.promise(() => query(url, "SELECT count(*)::int AS n FROM realtime_listeners"))
      expect(rows).toEqual([{ n: 0 }])
      yield* listenersSeen(receiver.base, 0)
      const unsentBefore = yield* metric(receiver.base, UNSENT)
      const sentBefore = yield* metric(receiver.base, SENT)
      expect(yield* post("alone-2")).toBe(200)
      expect(yield* reaches(receiver.base, UNSENT, unsentBefore + 1)).toBe(unsentBefore + 1)
      expect(yield* metric(receiver.base, SENT)).toBe(sentBefore)
    }).pipe(Effect.scoped), { timeout: 120_000 })
})
