import { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { expect, layer } from "@effect/vitest"
import { Clock, Effect, Layer, TestClock } from "effect"
import * as path from "node:path"
import { DEV_SECRET_FILE } from "../../src/auth/JwtSecret.js"
import { verifyJwt } from "../../src/identity/Jwt.js"
import { makeTestDatabase } from "../support/database.js"
import { cli, TestDataDir, TestDataDirLive } from "./support.js"

const TestLive = Layer.mergeAll(makeTestDatabase(), TestDataDirLive).pipe(Layer.provideMerge(NodeFileSystem.layer))

const NOW = Date.parse("2030-01-01T00:00:00Z")
const STRONG = "production-secret-of-at-least-32-chars!"

const devSecret = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  return (yield* fs.readFileString(path.join(yield* TestDataDir, DEV_SECRET_FILE))).trim()
})

const verify = (token: string, secret: string) =>
  Effect.flatMap(Clock.currentTimeMillis, (millis) =>
    verifyJwt(token, { hs256Secret: secret, clockSkewSeconds: 0, now: millis / 1000 }))

layer(TestLive)("token mint", (it) => {
  it.effect("mints a vendor token that verifies with the development secret", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      yield* cli(["vendor", "create", "--id", "acme", "--name", "Acme"])
      const out = yield* cli(["token", "mint", "--role", "vendor", "--vendor", "acme"])
      expect(out[0]).toBe("token for vendor acme (subject \"acme\"), valid 24h until 2030-01-02T00:00:00.000Z")
      const dataDir = yield* TestDataDir
      expect(out[1]).toBe(
        `signed with the development secret in ${path.join(dataDir, DEV_SECRET_FILE)} (set JWT_SECRET for real deployments)`
      )
      const token = out.at(-1) ?? ""
      const secret = yield* devSecret
      expect(out.join("\n")).not.toContain(secret)
      expect(yield* verify(token, secret)).toEqual({
        role: "vendor",
        vendorId: "acme",
        subject: "acme",
        expiresAt: NOW / 1000 + 86_400
      })
      const wrong = yield* Effect.flip(verify(token, "x".repeat(32)))
      expect(wrong.reason).toBe("invalid signature")
    }))

  it.effect("reuses the development secret: tokens minted twice verify with the same secret", () =>
    Effect.gen(function*() {
      yield* cli(["agent", "create", "--id", "bot-1"])
      const first = (yield* cli(["token", "mint", "--role", "agent", "--agent", "bot-1", "--ttl", "30m"])).at(-1) ?? ""
      const second = (yield* cli(["token", "mint", "--role", "admin"])).at(-1) ?? ""
      const secret = yield* devSecret
      expect(yield* verify(first, secret)).toMatchObject({ role: "agent", agentId: "bot-1", subject: "bot-1" })
      expect(yield* verify(second, secret)).toMatchObject({ role: "admin", subject: "admin" })
    }))

  it.effect("an expired token is refused: the ttl is honoured", () =>
    Effect.gen(function*() {
      const token = (yield* cli(["token", "mint", "--role", "admin", "--ttl", "30m"])).at(-1) ?? ""
      yield* TestClock.adjust("31 minutes")
      expect((yield* Effect.flip(verify(token, yield* devSecret))).reason).toBe("token expired")
    }))

  it.effect("refuses to mint for an unknown vendor or agent, before touching the secret", () =>
    Effect.scoped(Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dataDir = yield* fs.makeTempDirectoryScoped()
      const vendor = yield* Effect.flip(cli(["token", "mint", "--role", "vendor", "--vendor", "ghost"], { dataDir }))
      expect(vendor).toMatchObject({
        _tag: "CliError",
        message: "vendor ghost not found",
        hint: "see the existing ones with: npm run cli -- vendor list"
      })
      const agent = yield* Effect.flip(cli(["token", "mint", "--role", "agent", "--agent", "ghost"], { dataDir }))
      expect(agent.message).toBe("agent ghost not found")
      expect(yield* fs.exists(path.join(dataDir, DEV_SECRET_FILE))).toBe(false)
    })))

  it.effect("signs with JWT_SECRET when it is set", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      const out = yield* cli(["token", "mint", "--role", "admin", "--subject", "ops", "--ttl", "7d"], { env: { JWT_SECRET: STRONG } })
      expect(out[1]).toBe("signed with JWT_SECRET")
      expect(yield* verify(out.at(-1) ?? "", STRONG)).toEqual({ role: "admin", subject: "ops", expiresAt: NOW / 1000 + 7 * 86_400 })
      expect(out.join("\n")).not.toContain(STRONG)
    }))

  it.effect("carries JWT_ISSUER and JWT_AUDIENCE, which a server configured with them requires", () =>
    Effect.gen(function*() {
      const env = { JWT_SECRET: STRONG, JWT_ISSUER: "https://machpay.test", JWT_AUDIENCE: "console" }
      const token = (yield* cli(["token", "mint", "--role", "admin"], { env })).at(-1) ?? ""
      const now = (yield* Clock.currentTimeMillis) / 1000
      const strict = { hs256Secret: STRONG, clockSkewSeconds: 0, now, issuer: env.JWT_ISSUER, audience: env.JWT_AUDIENCE }
      expect(yield* verifyJwt(token, strict)).toMatchObject({ role: "admin" })
      const plain = (yield* cli(["token", "mint", "--role", "admin"], { env: { JWT_SECRET: STRONG } })).at(-1) ?? ""
      expect((yield* Effect.flip(verifyJwt(plain, strict))).reason).toBe("invalid issuer")
    }))

  it.effect("a too-short JWT_SECRET is a CLI error naming the variable", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(cli(["token", "mint", "--role", "admin"], { env: { JWT_SECRET: "tiny" } }))
      expect(error.message).toBe("invalid configuration: JWT_SECRET: must be at least 32 characters")
      expect(error.message).not.toContain("tiny")
    }))

  it.effect("--json gives the token and its claims", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      const out = JSON.parse((yield* cli(["token", "mint", "--role", "vendor", "--vendor", "acme", "--ttl", "2h", "--json"])).join("\n"))
      expect(out).toEqual({
        token: expect.any(String),
        role: "vendor",
        subject: "acme",
        vendorId: "acme",
        agentId: null,
        expiresAt: "2030-01-01T02:00:00.000Z"
      })
      expect(yield* verify(out.token, yield* devSecret)).toMatchObject({ role: "vendor", vendorId: "acme" })
    }))
})
