/**
 * What a PromQL expression reads: its vector selectors' metric names and label matchers, found
 * with Prometheus's own grammar (`@prometheus-io/lezer-promql`, the parser of the Prometheus UI),
 * so functions, aggregation clauses and keywords are never mistaken for metric names.
 */
import { parser } from "@prometheus-io/lezer-promql"

export interface Selector {
  readonly metric: string
  readonly labels: ReadonlyArray<string>
}

export interface Parsed {
  readonly selectors: ReadonlyArray<Selector>
  /** Text around each syntax error (empty when the expression parses). */
  readonly errors: ReadonlyArray<string>
}

/** Grafana's template variables, replaced by values of the same syntactic kind before parsing. */
export const substituteGrafanaVariables = (expr: string): string =>
  expr.replace(/\$__rate_interval|\$__interval|\$__range/g, "5m").replace(/\$\{?(\w+)\}?/g, ".*")

export const parsePromQL = (expr: string): Parsed => {
  const tree = parser.parse(expr)
  const selectors: Array<Selector> = []
  const errors: Array<string> = []
  const cursor = tree.cursor()
  do {
    if (cursor.type.isError) errors.push(expr.slice(Math.max(0, cursor.from - 20), cursor.to + 20))
    if (cursor.name === "VectorSelector") {
      const node = cursor.node
      const name = node.getChild("Identifier")
      const labels: Array<string> = []
      const matchers = node.getChild("LabelMatchers")
      if (matchers !== null) {
        const inner = matchers.cursor()
        do {
          if (inner.name === "LabelName") labels.push(expr.slice(inner.from, inner.to))
        } while (inner.next() && inner.from < matchers.to)
      }
      const metric = name === null ? "" : expr.slice(name.from, name.to)
      selectors.push({ metric, labels })
    }
  } while (cursor.next())
  return { selectors, errors }
}
