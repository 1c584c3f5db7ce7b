/**
 * Shared handling of HMAC secrets. Secrets arrive from `Config.redacted` in the
 * server and as plain strings or bytes in tests and the CLI; everything below the
 * edge works on bytes so a string secret and its UTF-8 bytes are the same key.
 */
import { Redacted } from "effect"

export type Secret = string | Uint8Array | Redacted.Redacted<string>

export const secretBytes = (secret: Secret): Uint8Array =>
  typeof secret === "string"
    ? Buffer.from(secret, "utf8")
    : Redacted.isRedacted(secret)
    ? Buffer.from(Redacted.value(secret), "utf8")
    : secret
