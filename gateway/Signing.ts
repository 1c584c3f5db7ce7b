/**
 * HMAC request signing, byte for byte what the receiver verifies (src/identity/RequestSignature.ts):
 *
 *     X-MachPay-Signature: t=<unix seconds>,v1=hex(HMAC-SHA256(secret, "<t>." + <body bytes as sent>))
 *
 * The body is signed as it goes on the wire, i.e. after gzip. A string secret is its UTF-8 bytes.
 * This is re-implemented here rather than imported so that the gateway library depends on the
 * contract (`schema/`) only; test/gateway/client.test.ts verifies it with the server's own code.
 */
import { createHmac } from "node:crypto"

export const SIGNATURE_HEADER = "x-machpay-signature"

export const signBody = (secret: string | Uint8Array, body: Uint8Array, nowSeconds: number): string => {
  const t = Math.floor(nowSeconds)
  const key = typeof secret === "string" ? Buffer.from(secret, "utf8") : secret
  const v1 = createHmac("sha256", key).update(`${t}.`, "utf8").update(body).digest("hex")
  return `t=${t},v1=${v1}`
}
