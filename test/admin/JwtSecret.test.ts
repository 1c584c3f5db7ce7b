import { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { expect, layer } from "@effect/vitest"
import { ConfigProvider, Effect, Either, HashMap, Logger, Redacted } from "effect"
import * as path from "node:path"
import { AppSettingsService } from "../../src/config/AppConfig.js"
import { DEV_SECRET_FILE, JwtSecretError, resolveJwtSecret } from "../../src/auth/JwtSecret.js"
import { settingsFor } from "./support.js"

const STRONG = "s".repeat(32)

/** Resolves in a fresh DATA_DIR (a not-yet-existing subdirectory of a temp dir), recording log lines. */
const resolveIn = (dataDir: string, env: Record<string, string> = {}, logs: Array<string> = []) =>
  resolveJwtSecret.pipe(
    Effect.provideService(AppSettingsService, settingsFor(dataDir)),
    Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))),
    Effect.provide(Logger.replace(
      Logger.defaultLogger,
      Logger.make(({ annotations, logLevel, message }) => {
        logs.push(`${logLevel.label} ${JSON.stringify(message)} ${JSON.stringify([...HashMap.toEntries(annotations)])}`)
      })
    ))
  )

const freshDir = Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "machpay-jwt-" })).pipe(
  Effect.map((dir) => path.join(dir, "data"))
)

layer(NodeFileSystem.layer)("resolveJwtSecret", (it) => {
  it.scoped("creates the development secret with mode 0600, warns without logging it, and reuses it", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* freshDir
      const logs: Array<string> = []
      const first = yield* resolveIn(dir, {}, logs)
      const file = path.join(dir, DEV_SECRET_FILE)
      expect(first.source).toEqual({ _tag: "DevFile", path: file, created: true })
      const secret = Redacted.value(first.secret)
      expect(secret.length).toBeGreaterThanOrEqual(32)
      expect((yield* fs.stat(file)).mode & 0o777).toBe(0o600)
      expect((yield* fs.readFileString(file)).trim()).toBe(secret)
      expect(yield* fs.readDirectory(dir)).toEqual([DEV_SECRET_FILE])

      const second = yield* resolveIn(dir, {}, logs)
      expect(Redacted.value(second.secret)).toBe(secret)
      expect(second.source).toEqual({ _tag: "DevFile", path: file, created: false })

      expect(logs.filter((line) => line.startsWith("WARN") && line.includes("JWT_SECRET is not set"))).toHaveLength(2)
      for (const line of logs) expect(line).not.toContain(secret)
    }))

  it.scoped("processes starting together end up with one secret", () =>
    Effect.gen(function*() {
      const dir = yield* freshDir
      const all = yield* Effect.all(Array.from({ length: 8 }, () => resolveIn(dir)), { concurrency: "unbounded" })
      expect(new Set(all.map((r) => Redacted.value(r.secret))).size).toBe(1)
      expect(all.filter((r) => r.source._tag === "DevFile" && r.source.created)).toHaveLength(1)
      const fs = yield* FileSystem.FileSystem
      expect(yield* fs.readDirectory(dir)).toEqual([DEV_SECRET_FILE])
    }))

  it.scoped("JWT_SECRET wins and no file is written", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* freshDir
      const logs: Array<string> = []
      const resolved = yield* resolveIn(dir, { JWT_SECRET: STRONG }, logs)
      expect(Redacted.value(resolved.secret)).toBe(STRONG)
      expect(resolved.source).toEqual({ _tag: "Config" })
      expect(yield* fs.exists(dir)).toBe(false)
      expect(logs.filter((line) => line.startsWith("WARN"))).toEqual([])
    }))

  it.scoped("a JWT_SECRET shorter than 32 characters is a configuration error", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(resolveIn(yield* freshDir, { JWT_SECRET: "short" }))
      expect(error._tag).not.toBe("JwtSecretError")
      expect(String(error)).toContain("must be at least 32 characters")
      expect(String(error)).not.toContain("short")
    }))

  it.scoped("a damaged development secret file is reported, not replaced", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* freshDir
      yield* fs.makeDirectory(dir, { recursive: true })
      const file = path.join(dir, DEV_SECRET_FILE)
      yield* fs.writeFileString(file, "too-short\n", { mode: 0o600 })
      const result = yield* Effect.either(resolveIn(dir))
      expect(result).toEqual(Either.left(new JwtSecretError({
        path: file,
        reason: "holds fewer than 32 characters; delete the file to generate a new secret"
      })))
      expect(yield* fs.readFileString(file)).toBe("too-short\n")
    }))

  it.scoped("warns when the development secret file is readable by others", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* freshDir
      yield* resolveIn(dir)
      yield* fs.chmod(path.join(dir, DEV_SECRET_FILE), 0o644)
      const logs: Array<string> = []
      yield* resolveIn(dir, {}, logs)
      expect(logs.some((line) => line.startsWith("WARN") && line.includes("readable by other users"))).toBe(true)
    }))
})
