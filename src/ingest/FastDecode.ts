/**
 * The hot path's decoder: a schema's AST compiled into one plain function that checks the input
 * and builds the decoded value in a single pass, without the Either/Option/issue objects the
 * general parser allocates at every node (at 10,000 events/s those were a third of all the
 * server's allocations). It decides nothing by itself: every rule comes from the schema (filters
 * are the schema's own), and on any failure the caller decodes again with the schema, which
 * words the error. Agreement with `Schema.decodeUnknownEither` is tested with properties over
 * `Arbitrary.make(schema)` (test/ingest/fast-decode.test.ts). Kept hand-written for that measured
 * reason; it lives with the receiver, not in the contract (`schema/` stays plain Effect Schema).
 *
 * Supported: literals, string/number/boolean/unknown keywords, structs (property and index
 * signatures), unions, arrays and tuples, refinements, and struct transformations made of
 * property-signature transformations (`optionalWith(…, { default })`). Anything else throws when
 * compiling, so a schema change that needs more is noticed at start-up, not in production data.
 */
import { Option, type Schema, SchemaAST as AST } from "effect"

/** Returned instead of a value when the input does not match. */
export const FAIL: unique symbol = Symbol("FastDecode.FAIL")

type Compiled = (input: unknown) => unknown

const isRecord = (input: unknown): input is Record<PropertyKey, unknown> =>
  typeof input === "object" && input !== null && !Array.isArray(input)

const has = (input: object, key: PropertyKey) => Object.prototype.hasOwnProperty.call(input, key)

const compileTypeLiteral = (ast: AST.TypeLiteral): Compiled => {
  const properties = ast.propertySignatures.map((ps) => ({ name: ps.name, optional: ps.isOptional, decode: compile(ps.type) }))
  const expected = new Set<PropertyKey>(ast.propertySignatures.map((ps) => ps.name))
  const indexes = ast.indexSignatures.map((is) => {
    if (is.parameter._tag !== "StringKeyword" && is.parameter._tag !== "Refinement") {
      throw new Error(`FastDecode: index signature on ${is.parameter._tag} is not supported`)
    }
    return { key: compile(is.parameter), decode: compile(is.type) }
  })
  if (properties.length === 0 && indexes.length === 0) return (input) => (input === null || input === undefined ? FAIL : input)
  return (input) => {
    if (!isRecord(input)) return FAIL
    const output: Record<PropertyKey, unknown> = {}
    for (const p of properties) {
      const present = has(input, p.name)
      if (!present && p.optional) continue
      const value = p.decode(input[p.name])
      if (value === FAIL) return FAIL
      output[p.name] = value
    }
    if (indexes.length > 0) {
      for (const key of Object.keys(input)) {
        for (const index of indexes) {
          // As in the general parser: keys the parameter refuses are ignored, not errors.
          if (index.key(key) === FAIL) continue
          const value = index.decode(input[key])
          if (value === FAIL) return FAIL
          if (!expected.has(key)) output[key] = value
        }
      }
    }
    return output
  }
}

const compileTuple = (ast: AST.TupleType): Compiled => {
  const elements = ast.elements.map((e) => ({ optional: e.isOptional, decode: compile(e.type) }))
  const [rest, ...after] = ast.rest.map((r) => compile(r.type))
  if (after.length > 0) throw new Error("FastDecode: elements after a rest element are not supported")
  return (input) => {
    if (!Array.isArray(input)) return FAIL
    if (rest === undefined && input.length > elements.length) return FAIL
    const output: Array<unknown> = []
    for (let i = 0; i < elements.length; i++) {
      const element = elements[i]!
      if (i >= input.length) {
        if (element.optional) continue
        return FAIL
      }
      const value = element.decode(input[i])
      if (value === FAIL) return FAIL
      output.push(value)
    }
    if (rest !== undefined) {
      for (let i = elements.length; i < input.length; i++) {
        const value = rest(input[i])
        if (value === FAIL) return FAIL
        output.push(value)
      }
    }
    return output
  }
}

const compileTransformation = (ast: AST.Transformation): Compiled => {
  const transformation = ast.transformation
  if (transformation._tag !== "TypeLiteralTransformation") {
    throw new Error(`FastDecode: ${transformation._tag} is not supported`)
  }
  const from = compile(ast.from)
  const to = compile(AST.typeAST(ast.to))
  const steps = transformation.propertySignatureTransformations
  return (input) => {
    const decoded = from(input)
    if (decoded === FAIL || !isRecord(decoded)) return FAIL
    for (const step of steps) {
      const result = step.decode(has(decoded, step.from) ? Option.some(decoded[step.from]) : Option.none())
      delete decoded[step.from]
      if (Option.isSome(result)) decoded[step.to] = result.value
    }
    return to(decoded)
  }
}

const compile = (ast: AST.AST): Compiled => {
  switch (ast._tag) {
    case "Literal":
      return (input) => (input === ast.literal ? input : FAIL)
    case "StringKeyword":
      return (input) => (typeof input === "string" ? input : FAIL)
    case "NumberKeyword":
      return (input) => (typeof input === "number" ? input : FAIL)
    case "BooleanKeyword":
      return (input) => (typeof input === "boolean" ? input : FAIL)
    case "UnknownKeyword":
    case "AnyKeyword":
      return (input) => input
    case "UndefinedKeyword":
      return (input) => (input === undefined ? input : FAIL)
    case "TypeLiteral":
      return compileTypeLiteral(ast)
    case "TupleType":
      return compileTuple(ast)
    case "Union": {
      const members = ast.types.map(compile)
      return (input) => {
        for (const member of members) {
          const value = member(input)
          if (value !== FAIL) return value
        }
        return FAIL
      }
    }
    case "Refinement": {
      const from = compile(ast.from)
      return (input) => {
        const value = from(input)
        if (value === FAIL) return FAIL
        return Option.isNone(ast.filter(value, AST.defaultParseOption, ast)) ? value : FAIL
      }
    }
    case "Transformation":
      return compileTransformation(ast)
    default:
      throw new Error(`FastDecode: ${ast._tag} is not supported`)
  }
}

/**
 * `schema` compiled: the decoded value, or `FAIL` (then decode with the schema for the issue).
 * The value is what `Schema.decodeUnknownEither(schema)` would give.
 */
export const compileDecoder = <A, I>(schema: Schema.Schema<A, I>): (input: unknown) => A | typeof FAIL =>
  compile(schema.ast) as (input: unknown) => A | typeof FAIL
