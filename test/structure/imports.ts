/**
 * What the structure tests read of the source tree: the files under a folder, the module
 * specifiers a file names (all of them, or only those kept at run time), and how a relative
 * specifier resolves — the same for every rule about who may import whom.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs"
import * as path from "node:path"
import ts from "typescript"

export const root = path.resolve(import.meta.dirname, "..", "..")

/** Every file under `dir` (relative to the repository root), recursively. */
export const walk = (dir: string): Array<string> =>
  readdirSync(path.join(root, dir)).flatMap((name) => {
    const rel = `${dir}/${name}`
    return statSync(path.join(root, rel)).isDirectory() ? walk(rel) : [rel]
  })

const isTypeOnlyImport = (node: ts.ImportDeclaration): boolean => {
  const clause = node.importClause
  return clause !== undefined && (clause.isTypeOnly || (
    clause.name === undefined && clause.namedBindings !== undefined && ts.isNamedImports(clause.namedBindings) &&
    clause.namedBindings.elements.length > 0 && clause.namedBindings.elements.every((e) => e.isTypeOnly)
  ))
}

const isTypeOnlyExport = (node: ts.ExportDeclaration): boolean =>
  node.isTypeOnly || (
    node.exportClause !== undefined && ts.isNamedExports(node.exportClause) &&
    node.exportClause.elements.every((e) => e.isTypeOnly)
  )

const cache = new Map<string, Array<string>>()

/**
 * The module specifiers `file` names: static and dynamic imports and re-exports. With `runtime`,
 * only those kept at run time (type-only imports and exports are erased); otherwise every one,
 * `import("…")` types included.
 */
export const importsOf = (file: string, options: { readonly runtime: boolean }): Array<string> => {
  const key = `${options.runtime}:${file}`
  const cached = cache.get(key)
  if (cached !== undefined) return cached
  const source = ts.createSourceFile(file, readFileSync(path.join(root, file), "utf8"), ts.ScriptTarget.ES2022, true)
  const out: Array<string> = []
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      if (!options.runtime || !isTypeOnlyImport(node)) out.push(node.moduleSpecifier.text)
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier !== undefined && ts.isStringLiteral(node.moduleSpecifier)) {
      if (!options.runtime || !isTypeOnlyExport(node)) out.push(node.moduleSpecifier.text)
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = node.arguments
      if (arg !== undefined && ts.isStringLiteral(arg)) out.push(arg.text)
    } else if (
      !options.runtime && ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) &&
      ts.isStringLiteral(node.argument.literal)
    ) {
      out.push(node.argument.literal.text)
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
  cache.set(key, out)
  return out
}

/** `./x.js` from `dir/y.ts` → `dir/x.ts` (how tsx and vitest resolve our relative imports); undefined when no file. */
export const resolveRelative = (from: string, specifier: string): string | undefined => {
  const target = path.posix.normalize(path.posix.join(path.posix.dirname(from), specifier))
  const candidates = [target.replace(/\.js$/, ".ts"), target, `${target}.ts`, `${target}/index.ts`]
  return candidates.find((c) => existsSync(path.join(root, c)) && statSync(path.join(root, c)).isFile())
}
