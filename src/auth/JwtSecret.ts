/**
 * The HS256 secret for console tokens, shared by the CLI (which mints development tokens)
 * and the console API (which verifies them), so both resolve it the same way:
 *
 * 1. `JWT_SECRET` (at least 32 characters) when set;
 * 2. otherwise a development secret in `<DATA_DIR>/dev-jwt-secret` (mode 0600), created on
 *    first use and reused afterwards — with a warning, as production must set `JWT_SECRET`.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import type { PlatformError } from "@effect/platform/Error"
import { NodeFileSystem } from "@effect/platform-node"
import { Config, ConfigError, Context, Data, Effect, Either, Layer, Option, Redacted } from "effect"
import { randomBytes } from "node:crypto"
import * as path from "node:path"
import { AppSettingsService } from "../config/AppConfig.js"

export const DEV_SECRET_FILE = "dev-jwt-secret"
export const MIN_SECRET_LENGTH = 32

export type JwtSecretSource =
  | { readonly _tag: "Config" }
  | { readonly _tag: "DevFile"; readonly path: string; readonly created: boolean }

export interface ResolvedJwtSecret {
  readonly secret: Redacted.Redacted<string>
  readonly source: JwtSecretSource
}

export class JwtSecret extends Context.Tag("Auth/JwtSecret")<JwtSecret, ResolvedJwtSecret>() {}

/** The development secret file could not be read or written. Never carries the secret. */
export class JwtSecretError extends Data.TaggedError("JwtSecretError")<{
  readonly path: string
  readonly reason: string
}> {
  override get message(): string {
    return `development JWT secret ${this.path}: ${this.reason}`
  }
}

export const JwtSecretConfig: Config.Config<Option.Option<Redacted.Redacted<string>>> = Config.option(
  Config.redacted("JWT_SECRET").pipe(
    // mapOrFail with an explicit path: `Config.validate` would report the error without the variable's name.
    Config.mapOrFail((secret) =>
      Redacted.value(secret).length >= MIN_SECRET_LENGTH
        ? Either.right(secret)
        : Either.left(ConfigError.InvalidData(["JWT_SECRET"], `must be at least ${MIN_SECRET_LENGTH} characters`))
    )
  )
)

const describe = (error: PlatformError): string =>
  error._tag === "SystemError" ? `${error.reason}${error.description ? ` (${error.description})` : ""}` : error.message

const readDevSecret = (fs: FileSystem.FileSystem, file: string) =>
  Effect.gen(function*() {
    const value = (yield* fs.readFileString(file)).trim()
    if (value.length < MIN_SECRET_LENGTH) {
      return yield* new JwtSecretError({
        path: file,
        reason: `holds fewer than ${MIN_SECRET_LENGTH} characters; delete the file to generate a new secret`
      })
    }
    const info = yield* fs.stat(file)
    if ((info.mode & 0o077) !== 0) {
      yield* Effect.logWarning("development JWT secret file is readable by other users; chmod 600 it").pipe(
        Effect.annotateLogs({ path: file })
      )
    }
    return Redacted.make(value)
  })

/**
 * Creates the file with its full content atomically: write a private temporary file, then
 * hard-link it into place. `link` fails if the name exists, so when the server and the CLI
 * start together one secret wins and both read it — never a half-written or replaced file.
 */
const createDevSecret = (fs: FileSystem.FileSystem, dir: string, file: string) =>
  Effect.gen(function*() {
    yield* fs.makeDirectory(dir, { recursive: true, mode: 0o700 })
    const temp = `${file}.${randomBytes(6).toString("hex")}.tmp`
    const linked = yield* fs.writeFileString(temp, `${randomBytes(32).toString("base64url")}\n`, { flag: "wx", mode: 0o600 }).pipe(
      Effect.zipRight(fs.link(temp, file)),
      Effect.as(true),
      Effect.catchIf((e) => e._tag === "SystemError" && e.reason === "AlreadyExists", () => Effect.succeed(false)),
      Effect.ensuring(fs.remove(temp).pipe(Effect.ignore))
    )
    return linked
  })

export const resolveJwtSecret: Effect.Effect<
  ResolvedJwtSecret,
  ConfigError.ConfigError | JwtSecretError,
  AppSettingsService | FileSystem.FileSystem
> = Effect.gen(function*() {
  const configured = yield* JwtSecretConfig
  if (Option.isSome(configured)) return { secret: configured.value, source: { _tag: "Config" } } as const
  const fs = yield* FileSystem.FileSystem
  const { dataDir } = yield* AppSettingsService
  const file = path.join(dataDir, DEV_SECRET_FILE)
  const fail = (error: PlatformError) => new JwtSecretError({ path: file, reason: describe(error) })
  const present = yield* fs.exists(file).pipe(Effect.mapError(fail))
  const created = present ? false : yield* createDevSecret(fs, dataDir, file).pipe(Effect.mapError(fail))
  const secret = yield* readDevSecret(fs, file).pipe(
    Effect.catchTag("BadArgument", "SystemError", (error) => Effect.fail(fail(error)))
  )
  yield* Effect.logWarning("JWT_SECRET is not set: using the development secret file; set JWT_SECRET in production").pipe(
    Effect.annotateLogs({ path: file, created })
  )
  return { secret, source: { _tag: "DevFile", path: file, created } } as const
}).pipe(Effect.withSpan("JwtSecret.resolve"))

/** `JwtSecret` for the console API (and anything else that verifies tokens). */
export const JwtSecretLive: Layer.Layer<JwtSecret, ConfigError.ConfigError | JwtSecretError, AppSettingsService> = Layer
  .effect(JwtSecret, resolveJwtSecret)
  .pipe(Layer.provide(NodeFileSystem.layer))
