/**
 * HMAC request signing, byte for byte what the receiver verifies (src/identity/RequestSignature.ts):
 *
 *     X-MachPay-Signature: t=<unix seconds>,v1=hex(HMAC-SHA256(secret, "<t>." + <body bytes as sent>))
 *
 * The body is signed as it goes on the wire, i.e. after gzip. A string secret is its UTF-8 bytes.
 * A CloudEvents binary-mode request (attributes in `ce-*` headers) signs those headers, its
 * `content-type` and its `content-encoding` too, with
 * `signBinary`. This is re-implemented here rather than imported so that the gateway library
 * depends on the contract (`schema/`) only; test/gateway/client.test.ts verifies it with the
 * server's own code.
 */
import { createHmac } from "node:crypto"

export const SIGNATURE_HEADER = "x-machpay-signature"

const sign = (secret: string | Uint8Array, nowSeconds: number, parts: ReadonlyArray<Uint8Array>): string => {
  const t = Math.floor(nowSeconds)
  const hmac = createHmac("sha256", typeof secret === "string" ? Buffer.from(secret, "utf8") : secret).update(`${t}.`, "utf8")
  for (const part of parts) hmac.update(part)
  return `t=${t},v1=${hmac.digest("hex")}`
}

export const signBody = (secret: string | Uint8Array, body: Uint8Array, nowSeconds: number): string =>
  sign(secret, nowSeconds, [body])

/**
 * The signature of a binary-mode request. `headers` are the ones it will be sent with; its
 * `ce-*`, `content-type` and `content-encoding` headers are signed, each as `name:value\n`
 * (name in lower case, value without surrounding spaces or tabs, as the receiver reads it),
 * the lines sorted, followed by one empty line, then the body. A name given twice (in any
 * case) is refused: HTTP would merge or drop one of them.
 */
export const signBinary = (
  secret: string | Uint8Array,
  headers: Readonly<Record<string, string>>,
  body: Uint8Array,
  nowSeconds: number
): string => {
  const signed = new Map<string, string>()
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase()
    if (!(lower.startsWith("ce-") || lower === "content-type" || lower === "content-encoding")) continue
    if (signed.has(lower)) throw new Error(`signBinary: header ${lower} given twice`)
    signed.set(lower, `${lower}:${value.replace(/^[ \t]+|[ \t]+$/g, "")}\n`)
  }
  return sign(secret, nowSeconds, [Buffer.from(`${[...signed.values()].sort().join("")}\n`, "latin1"), body])
}
