/**
 * Public keys for RS256 console tokens, from a JSON Web Key Set. Keys are imported and chosen
 * by `jose` (`createLocalJWKSet`): only RSA keys whose `use` is absent or `sig` and whose
 * `alg` is absent or `RS256` can serve an RS256 token, matched on its `kid` (a set with one
 * such key also serves tokens without `kid`). We add one rule: a modulus under 2048 bits is
 * never used. Signatures are verified by `jose` too (Jwt.ts). The *download* stays ours rather
 * than jose's `createRemoteJWKSet`, whose cache runs on `Date.now()` and its own fetch: here
 * the policy below runs on Effect's `Clock` (tested with `TestClock`), keeps the previous keys
 * when a refresh fails, shares one download between concurrent callers, and rate-limits
 * refetches for unknown `kid`s.
 */
import { KeyObject } from "node:crypto"
import { Clock, Duration, Effect, Either, Ref } from "effect"
import { createLocalJWKSet, errors as JoseErrors, type JSONWebKeySet } from "jose"
import { JwtError } from "./JwtError.js"

export interface JwksResolver {
  /** The verification key for a token's `kid` (a set of one key also serves tokens without `kid`). */
  readonly getKey: (kid: string | undefined) => Effect.Effect<KeyObject, JwtError>
}

/** A key set as jose selects from it; `undefined` for a document that is not a key set. */
type KeySet = ReturnType<typeof createLocalJWKSet> | undefined

const MIN_RSA_BITS = 2048

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/**
 * A `{ keys: [...] }` document (or a JSON string of one) as a key set. Entries that are not
 * objects are dropped first, so one stray value does not make jose refuse the whole set.
 */
const keySetOf = (jwks: unknown): KeySet => {
  let doc = jwks
  if (typeof doc === "string") {
    try {
      doc = JSON.parse(doc)
    } catch {
      return undefined
    }
  }
  if (!isRecord(doc) || !Array.isArray(doc["keys"])) return undefined
  try {
    return createLocalJWKSet({ keys: doc["keys"].filter(isRecord) } as JSONWebKeySet)
  } catch {
    return undefined
  }
}

const unknownKey = () => new JwtError({ reason: "unknown signing key" })

/**
 * The RS256 key of `set` for `kid`, or None when there is none (no match, several matches for
 * a token without `kid`, an unusable key, or a modulus under 2048 bits).
 */
const selectKey = (set: KeySet, kid: string | undefined): Effect.Effect<KeyObject | undefined> =>
  set === undefined
    ? Effect.succeed(undefined)
    : Effect.tryPromise(() => set(kid === undefined ? { alg: "RS256" } : { alg: "RS256", kid })).pipe(
      Effect.map((cryptoKey) => {
        const key = KeyObject.from(cryptoKey)
        return (key.asymmetricKeyDetails?.modulusLength ?? 0) >= MIN_RSA_BITS ? key : undefined
      }),
      // jose's "no matching key", "several keys match" and import failures all mean: not this set.
      Effect.catchAll((error) =>
        error.error instanceof JoseErrors.JOSEError || error.error instanceof TypeError
          ? Effect.succeed(undefined)
          : Effect.die(error.error))
    )

/** A fixed key set, for tests and for deployments that ship the JWKS in config. */
export const makeStaticJwks = (jwks: unknown): JwksResolver => {
  const set = keySetOf(jwks)
  return {
    getKey: (kid) =>
      Effect.flatMap(selectKey(set, kid), (key) => key === undefined ? Effect.fail(unknownKey()) : Effect.succeed(key))
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
  /** Meaningful once a download has succeeded (`fetchedAt` is finite). */
  readonly keys: KeySet
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
        return { set: keySetOf(await response.json()) }
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
            ? { keys: result.right.set, fetchedAt: now, attemptedAt: now }
            : { ...current, attemptedAt: now }
          yield* Ref.set(state, next)
          return next
        })
      )

    const getKey = (kid: string | undefined): Effect.Effect<KeyObject, JwtError> =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        let current = yield* Ref.get(state)
        const fresh = current.fetchedAt !== -Infinity
        const cached = fresh ? yield* selectKey(current.keys, kid) : undefined
        if (cached !== undefined && now - current.fetchedAt < ttlMs) return cached
        if (now - current.attemptedAt >= cooldownMs) current = yield* refresh(now)
        const downloaded = current.fetchedAt !== -Infinity
        const key = downloaded ? yield* selectKey(current.keys, kid) : undefined
        if (key !== undefined) return key
        return yield* Effect.fail(downloaded ? unknownKey() : new JwtError({ reason: "signing keys unavailable" }))
      })

    return { getKey }
  })
