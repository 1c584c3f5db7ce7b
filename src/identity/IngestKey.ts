/**
 * Gateway ingest keys.
 *
 * A key is `mpk_live_` followed by 32 random bytes in base64url (43 chars). Only
 * the SHA-256 of a key is stored: the keys carry 256 bits of entropy, so a plain
 * fast hash is enough (no password-style KDF needed) and it lets the receiver look
 * a gateway up by hash in one indexed query per request.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto"
import { Effect, Option } from "effect"

export const INGEST_KEY_PREFIX = "mpk_live_"

const KEY_PATTERN = /^mpk_live_[A-Za-z0-9_-]{43}$/

/** A fresh random ingest key; show it once, store only `hashIngestKey(key)`. */
export const generateIngestKey: Effect.Effect<string> = Effect.sync(
  () => INGEST_KEY_PREFIX + randomBytes(32).toString("base64url")
)

/** Whether a string has the shape of an ingest key (cheap pre-check before any lookup). */
export const isIngestKeyFormat = (key: string): boolean => KEY_PATTERN.test(key)

/** Hex SHA-256 of the key: the value stored and looked up. */
export const hashIngestKey = (key: string): string => createHash("sha256").update(key, "utf8").digest("hex")

/** First 12 characters, safe to display and log to tell keys apart. */
export const keyPrefix = (key: string): string => key.slice(0, 12)

/**
 * Extracts the credentials of a `Bearer` Authorization header. The scheme is
 * case-insensitive (RFC 9110 §11.1); a token with inner whitespace is rejected.
 */
export const parseBearer = (header: string | undefined): Option.Option<string> => {
  if (header === undefined) return Option.none()
  const match = /^\s*bearer\s+(.*)$/i.exec(header)
  const token = match?.[1]?.trim()
  return token === undefined || token.length === 0 || /\s/.test(token) ? Option.none() : Option.some(token)
}

/**
 * Constant-time string equality. Both sides are hashed first so neither the
 * content nor the length of the expected value leaks through timing.
 */
export const constantTimeEqual = (a: string, b: string): boolean =>
  timingSafeEqual(
    createHash("sha256").update(a, "utf8").digest(),
    createHash("sha256").update(b, "utf8").digest()
  )

/** Checks a presented key against a stored hash without leaking timing. */
export const verifyIngestKey = (key: string, storedHash: string): boolean =>
  constantTimeEqual(hashIngestKey(key), storedHash.toLowerCase())
