/**
 * Bundles the server (`src/main.ts` and everything it imports from this repository) into
 * `dist/main.mjs` with a source map; npm packages stay external. `npm start` runs the bundle:
 * it starts faster and holds ~90 MB less than running TypeScript through tsx's loader thread.
 *
 * Files are written next to their target and renamed into place, so a server starting while
 * another build runs (parallel test files, benchmarks) never reads half a bundle.
 */
import { buildSync } from "esbuild"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

export const ROOT = fileURLToPath(new URL("../", import.meta.url))
export const BUNDLE = path.join(ROOT, "dist", "main.mjs")

export const buildServer = (): string => {
  const result = buildSync({
    entryPoints: [path.join(ROOT, "src", "main.ts")],
    outfile: BUNDLE,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    sourcemap: true,
    write: false,
    logLevel: "warning"
  })
  fs.mkdirSync(path.dirname(BUNDLE), { recursive: true })
  for (const file of result.outputFiles) {
    const temporary = `${file.path}.${process.pid}.tmp`
    fs.writeFileSync(temporary, file.contents)
    fs.renameSync(temporary, file.path)
  }
  return BUNDLE
}

/** Node arguments that run the built server. */
export const serverArgs = (): ReadonlyArray<string> => ["--enable-source-maps", BUNDLE]

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) buildServer()
