/**
 * The image's runtime conditions without Docker: the built bundle (dist/main.mjs, built by the
 * test setup as `npm run build` does) runs as an unprivileged user (`nobody`) from a read-only
 * copy of the application directory, with only DATA_DIR and JOURNAL_DIR writable, once per
 * role, each on a fresh database; it must become ready. Needs root (to switch user); skipped
 * otherwise.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Schedule } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { BUNDLE, ROOT } from "../../scripts/build.js"
import { createDatabase, databaseUrl } from "../support/database.js"
import { freePort } from "../support/server.js"

const NOBODY = 65534
const isRoot = process.getuid?.() === 0

/** dist/ + migrations/ + package.json copied into a root-owned, read-only (0555) directory. */
const readOnlyApp = Effect.acquireRelease(
  Effect.sync(() => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), "machpay-ro-"))
    fs.chmodSync(base, 0o755)
    const app = path.join(base, "app")
    fs.mkdirSync(path.join(app, "dist"), { recursive: true })
    fs.copyFileSync(BUNDLE, path.join(app, "dist", "main.mjs"))
    fs.cpSync(path.join(ROOT, "migrations"), path.join(app, "migrations"), { recursive: true })
    fs.copyFileSync(path.join(ROOT, "package.json"), path.join(app, "package.json"))
    fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(app, "node_modules"))
    for (const dir of [path.join(app, "dist"), path.join(app, "migrations"), app]) fs.chmodSync(dir, 0o555)
    return { base, app }
  }),
  ({ base }) => Effect.sync(() => fs.rmSync(base, { recursive: true, force: true }))
)

/** A directory only `nobody` can write. */
const writableDir = (base: string, name: string) => {
  const dir = path.join(base, name)
  fs.mkdirSync(dir, { mode: 0o700 })
  fs.chownSync(dir, NOBODY, NOBODY)
  return dir
}

const filesUnder = (dir: string): ReadonlyArray<string> =>
  fs.existsSync(dir) ? fs.readdirSync(dir, { recursive: true }).map(String) : []

const runAs = (app: string, env: Record<string, string>) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      let output = ""
      const child = spawn(process.execPath, ["--enable-source-maps", path.join(app, "dist", "main.mjs")], {
        cwd: app,
        uid: NOBODY,
        gid: NOBODY,
        env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", HOME: "/nonexistent", LOG_LEVEL: "Warning", ...env },
        stdio: ["ignore", "pipe", "pipe"]
      })
      child.stdout?.on("data", (c: Buffer) => (output = (output + c.toString()).slice(-20_000)))
      child.stderr?.on("data", (c: Buffer) => (output = (output + c.toString()).slice(-20_000)))
      return { child, output: () => output }
    }),
    ({ child }) =>
      Effect.async<void>((resume) => {
        if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
        const kill = setTimeout(() => child.kill("SIGKILL"), 15_000)
        child.once("exit", () => {
          clearTimeout(kill)
          resume(Effect.void)
        })
        child.kill("SIGTERM")
      })
  )

const ready = (url: string) =>
  Effect.tryPromise(() => fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(2_000) }).then((r) => r.status)).pipe(
    Effect.filterOrFail((status) => status === 200),
    Effect.retry({ schedule: Schedule.spaced("200 millis"), times: 200 })
  )

describe("Dockerfile", () => {
  it("DATA_DIR and JOURNAL_DIR exist in the image and belong to the runtime user", () => {
    const text = fs.readFileSync(path.join(ROOT, "Dockerfile"), "utf8").replace(/\\\n/g, " ")
    const user = /^USER\s+(\S+)/m.exec(text)?.[1]
    expect(user).toBeDefined()
    expect(user).not.toBe("root")
    const env = /^ENV\s+(.*)$/m.exec(text)?.[1] ?? ""
    const dataDir = /DATA_DIR=(\S+)/.exec(env)?.[1]
    const journalDir = /JOURNAL_DIR=(\S+)/.exec(env)?.[1]
    expect(dataDir).toBeDefined()
    expect(journalDir).toBeDefined()
    for (const dir of [dataDir, journalDir]) {
      expect(text).toMatch(new RegExp(`mkdir -p [^\\n]*${dir}`))
      expect(text).toMatch(new RegExp(`chown -R ${user}:${user} [^\\n]*${path.dirname(dir ?? "")}`))
    }
    // The user comes after the build steps: the application files stay root-owned.
    expect(text.lastIndexOf("USER")).toBeGreaterThan(text.lastIndexOf("RUN npm run build"))
  })
})

/** Starts the bundle as `nobody` with `ROLES=role` on a fresh database; waits for /health/ready. */
const startAs = (role: string) =>
  Effect.gen(function*() {
    const { app, base } = yield* readOnlyApp
    const dataDir = writableDir(base, "data")
    const journalDir = writableDir(base, "journal")
    const port = yield* Effect.promise(freePort)
    const name = yield* createDatabase("ro")
    const proc = yield* runAs(app, {
      ROLES: role,
      PORT: String(port),
      HOST: "127.0.0.1",
      DATABASE_URL: databaseUrl(name),
      DATA_DIR: dataDir,
      JOURNAL_DIR: journalDir
    })
    yield* ready(`http://127.0.0.1:${port}`).pipe(
      Effect.timeoutFail({ duration: "45 seconds", onTimeout: () => new Error("timed out") }),
      Effect.catchAll((error) => Effect.fail(new Error(`ROLES=${role} did not become ready: ${String(error)}\n${proc.output()}`)))
    )
    // The journal publishes journal_* metrics once it is open (JournalLive's stats loop).
    const metrics = yield* Effect.promise(() => fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text()))
    return { app, proc, journalDir, journalOpen: /^journal_segments\b/m.test(metrics) }
  })

describe.runIf(isRoot)("the bundle as an unprivileged user, read-only app directory", () => {
  for (const role of ["receiver", "api", "worker", "receiver,api,worker"] as const) {
    it.scopedLive(`ROLES=${role} becomes ready`, () =>
      Effect.gen(function*() {
        const { app, journalOpen, proc } = yield* startAs(role)
        expect(proc.child.exitCode).toBeNull()
        // Nothing was written beside the application.
        expect(fs.readdirSync(app).sort()).toEqual(["dist", "migrations", "node_modules", "package.json"])
        expect(fs.readdirSync(path.join(app, "dist"))).toEqual(["main.mjs"])
        if (role.includes("receiver")) expect(journalOpen, "the receiver opened its journal").toBe(true)
      }), 90_000)
  }

  // Issue 14: "an api-only or worker-only process opens no journal": the ingest feature is built
  // for the receiver role only (src/ingest/Ingest.ts, IngestHttpForRoles).
  for (const role of ["api", "worker"] as const) {
    it.scopedLive(`ROLES=${role} opens no journal`, () =>
      Effect.gen(function*() {
        const { journalDir, journalOpen } = yield* startAs(role)
        expect({ journalOpen, files: filesUnder(journalDir) }).toEqual({ journalOpen: false, files: [] })
      }), 90_000)
  }
})
