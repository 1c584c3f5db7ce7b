/**
 * Synchronous token signing for tests and load tools. The server mints with jose (`signJwt`,
 * src/identity/Jwt.ts), whose signing is asynchronous (WebCrypto); tests and load tools sign
 * inline — in module constants and plain functions — so they keep these two small signers.
 * `test/identity/Jwt.test.ts` checks that they produce exactly the token `signJwt` mints.
 * Nothing under `src/` imports this module.
 */
import { createHmac, type KeyObject, sign as rsaSign } from "node:crypto"
import type { JwtClaims } from "../src/identity/Jwt.js"
import { type Secret, secretBytes } from "../src/identity/Secret.js"

const encodeJson = (value: unknown): string => Buffer.from(JSON.stringify(value), "utf8").toString("base64url")

/** A compact HS256 token for `claims`. */
export const signHs256 = (claims: JwtClaims, secret: Secret, options: { readonly kid?: string } = {}): string => {
  const signingInput = `${encodeJson({ alg: "HS256", typ: "JWT", ...options })}.${encodeJson(claims)}`
  return `${signingInput}.${createHmac("sha256", secretBytes(secret)).update(signingInput, "ascii").digest("base64url")}`
}

/** A compact RS256 token for `claims`. */
export const signRs256 = (claims: JwtClaims, privateKey: KeyObject, kid?: string): string => {
  const header = kid === undefined ? { alg: "RS256", typ: "JWT" } : { alg: "RS256", typ: "JWT", kid }
  const signingInput = `${encodeJson(header)}.${encodeJson(claims)}`
  return `${signingInput}.${rsaSign("sha256", Buffer.from(signingInput, "ascii"), privateKey).toString("base64url")}`
}
