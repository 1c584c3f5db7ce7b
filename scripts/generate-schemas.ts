/**
 * Writes the JSON Schema documents to schema/json/ (`npm run schemas`).
 * A plain script: no Effect runtime needed, the documents are pure data. Kept out of `schema/`,
 * which holds the contract only (it writes files).
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { makeJsonSchemaDocuments, renderJsonSchema } from "../schema/jsonSchema.js"

const outDir = join(dirname(fileURLToPath(import.meta.url)), "..", "schema", "json")
mkdirSync(outDir, { recursive: true })

const documents = makeJsonSchemaDocuments()
for (const stale of readdirSync(outDir)) {
  if (stale.endsWith(".schema.json") && !(stale in documents)) rmSync(join(outDir, stale))
}
for (const [file, document] of Object.entries(documents)) {
  writeFileSync(join(outDir, file), renderJsonSchema(document))
}
console.log(`wrote ${Object.keys(documents).length} JSON Schema documents to ${outDir}`)
