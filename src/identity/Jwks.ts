/**
 * Public keys for RS256 console tokens, from a JSON Web Key Set. Only RSA
 * signing keys are imported (`kty: "RSA"`, `use` absent or `sig`, `alg` absent
 * or `RS256`, modulus ≥ 2048 bits); anything else in the set is ignored, so a
 * key can never be used with an algorithm it was not published for. Signatures are verified
 * by `jose` (Jwt.ts); the key set stays ours rather than jose's `createRemoteJWKSet` because the
 * download policy below runs on Effect's `Clock` (tested with `TestClock`), keeps the previous
 * keys when a refresh fails, and hands out Node `KeyObject`s synchronously imported.
 */
import { createPublicKey, type KeyObject } from "node:crypto"
import { Clock, Duration, Effect, Either, Ref } from "effect"
import { JwtError } from "./JwtError.js"

export interface JwksResolver {
  /** The verification key for a token's `kid` (a set of one key also serves tokens without `kid`). */
  readonly getKey: (kid: string | undefined) => Effect.Effect<KeyObject, JwtError>
}

export interface ImportedJwk {
  readonly kid: string | undefined
  readonly key: KeyObject
}

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

const importRsaJwk = (jwk: Record<string, unknown>): ImportedJwk | undefined => {
  const { kty, n, e, kid, use, alg } = jwk
  if (kty !== "RSA" || typeof n !== "string" || typeof e !== "string") return undefined
  if (use !== undefined && use !== "sig") return undefined
  if (alg !== undefined && alg !== "RS256") return undefined
  if (kid !== undefined && typeof kid !== "string") return undefined
  try {
    // Only the public components are passed on, whatever else the JWK holds.
    const key = createPublicKey({ key: { kty, n, e }, format: "jwk" })
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0
    return bits >= 2048 ? { kid, key } : undefined
  } catch {
    return undefined
  }
}

/** The usable RS256 keys of a `{ keys: [...] }` document (or a JSON string of one). */
export const importJwks = (jwks: unknown): ReadonlyArray<ImportedJwk> => {
  let doc = jwks
  if (typeof doc === "string") {
    try {
      doc = JSON.parse(doc)
    } catch {
      return []
    }
  }
  if (!isRecord(doc) || !Array.isArray(doc["keys"])) return []
  const keys: Array<ImportedJwk> = []
  for (const jwk of doc["keys"]) {
    const imported = isRecord(jwk) ? importRsaJwk(jwk) : undefined
    if (imported !== undefined) keys.push(imported)
  }
  return keys
}

const selectKey = (keys: ReadonlyArray<ImportedJwk>, kid: string | undefined): KeyObject | undefined =>
  kid === undefined ? (keys.length === 1 ? keys[0]?.key : undefined) : keys.find((k) => k.kid === kid)?.key

const unknownKey = () => new JwtError({ reason: "unknown signing key" })

/** A fixed key set, for tests and for deployments that ship the JWKS in config. */
export const makeStaticJwks = (jwks: unknown): JwksResolver => {
  const keys = importJwks(jwks)
  return {
    getKey: (kid) => {
      const key = selectKey(keys, kid)
      return key === undefined ? Effect.fail(unknownKey()) : Effect.succeed(key)
    }
  }
}

/** The slice of `fetch` used here; the global `fetch` fits, and so does a test fake. */
export type FetchLike = (
  url: string,
  init?: { readonly signal?: AbortSignal }
) => Promise<{ readonly ok: boolean; readonly status: number; json(): Promise<unknown> }>

export interface RemoteJwksOptions {
  /** Fewest time between two downloads, also after a failure or for an unknown `kid`. Default 30 s. */
  readonly minRefreshInterval?: Duration.DurationInput
  /** Download timeout. Default 5 s. */
  readonly timeout?: Duration.DurationInput
}

interface CacheState {
  readonly keys: ReadonlyArray<ImportedJwk> | undefined
  readonly fetchedAt: number
  readonly attemptedAt: number
}

/**
 * A key set downloaded from `url` and cached for `ttl`. An unknown `kid` triggers
 * a download (the issuer may have rotated keys), at most once per
 * `minRefreshInterval`, so tokens with made-up `kid`s cannot hammer the issuer.
 * When a download fails the previous keys stay in use; concurrent callers share
 * one download.
 */
export const makeRemoteJwks = (
  url: string,
  fetchFn: FetchLike = globalThis.fetch,
  ttl: Duration.DurationInput = "10 minutes",
  options: RemoteJwksOptions = {}
): Effect.Effect<JwksResolver> =>
  Effect.gen(function* () {
    const ttlMs = Duration.toMillis(ttl)
    const cooldownMs = Duration.toMillis(options.minRefreshInterval ?? "30 seconds")
    const timeout = options.timeout ?? "5 seconds"
    const state = yield* Ref.make<CacheState>({ keys: undefined, fetchedAt: -Infinity, attemptedAt: -Infinity })
    const lock = yield* Effect.makeSemaphore(1)

    const download = Effect.tryPromise({
      try: async (signal) => {
        const response = await fetchFn(url, { signal })
        if (!response.ok) throw new Error(`JWKS endpoint answered ${response.status}`)
        return importJwks(await response.json())
      },
      catch: (cause) => cause
    }).pipe(
      Effect.timeout(timeout),
      Effect.tapError((cause) => Effect.logWarning("JWKS download failed", { url, cause: String(cause) }))
    )

    const refresh = (requestedAt: number) =>
      lock.withPermits(1)(
        Effect.gen(function* () {
          const current = yield* Ref.get(state)
          // Someone else downloaded (or tried) while we waited for the lock.
          if (current.attemptedAt >= requestedAt) return current
          const result = yield* Effect.either(download)
          const now = yield* Clock.currentTimeMillis
          const next: CacheState = Either.isRight(result)
            ? { keys: result.right, fetchedAt: now, attemptedAt: now }
            : { ...current, attemptedAt: now }
          yield* Ref.set(state, next)
          return next
        })
      )

    const getKey = (kid: string | undefined): Effect.Effect<KeyObject, JwtError> =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        let current = yield* Ref.get(state)
        const cached = current.keys === undefined ? undefined : selectKey(current.keys, kid)
        if (cached !== undefined && now - current.fetchedAt < ttlMs) return cached
        if (now - current.attemptedAt >= cooldownMs) current = yield* refresh(now)
        const key = current.keys === undefined ? undefined : selectKey(current.keys, kid)
        if (key !== undefined) return key
        return yield* Effect.fail(
          current.keys === undefined ? new JwtError({ reason: "signing keys unavailable" }) : unknownKey()
        )
      })

    return { getKey }
  })
