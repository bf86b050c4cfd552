"""What a dashboard's PromQL reads: metric names, label matchers, grouping labels.

Parsing is done by promql-parser (the Rust port of Prometheus' own grammar); this module only
walks its tree into the small shapes the dashboard tests compare with an exporter's real output:
`Selector` (metric and matchers), `Grouping` (labels named by ``by``/``without``/``on``/
``ignoring``/``group_left``/``group_right`` or by a label function, with the metrics they apply
to) and `References` (both lists).

Grafana variables are not PromQL.  Before parsing, each one is replaced as Grafana would replace
it with a value: an interval variable (``$__rate_interval``) by a duration, any other by a name.
Every placeholder is distinctive, so what comes back (a matcher value, a label, a range) is
reported in the dashboard's own spelling again (``job="$job"``, ``[$__rate_interval]``).

Anything promql-parser refuses (a typo in a function name, an unclosed bracket) raises
`PromQLSyntaxError` naming the expression: a reference is never skipped silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta

import promql_parser as pp

__all__ = [
    "PromQLSyntaxError",
    "Matcher",
    "Selector",
    "Grouping",
    "References",
    "GrafanaExpr",
    "INTERVAL_PLACEHOLDERS",
    "parse_grafana_expr",
    "parse_references",
    "split_label_values_query",
    "parse_label_values_query",
]


class PromQLSyntaxError(ValueError):
    """The expression is not PromQL (after Grafana's variables are replaced)."""


@dataclass(frozen=True)
class Matcher:
    label: str
    op: str  # "=", "!=", "=~" or "!~"
    value: str


@dataclass(frozen=True)
class Selector:
    """One vector selector: the metric name (None when no ``__name__="..."`` fixes it) and its other matchers."""

    metric: str | None
    matchers: tuple[Matcher, ...] = ()


@dataclass(frozen=True)
class Grouping:
    """Labels named by a clause (``by``, ``without``, ``on``, ``label_replace``, ...) and the metrics they apply to."""

    clause: str
    labels: tuple[str, ...]
    metrics: frozenset[str]


@dataclass
class References:
    selectors: list[Selector] = field(default_factory=list)
    groupings: list[Grouping] = field(default_factory=list)

    @property
    def metrics(self) -> set[str]:
        return {s.metric for s in self.selectors if s.metric}

    def merge(self, other: References) -> None:
        self.selectors.extend(other.selectors)
        self.groupings.extend(other.groupings)


# Grafana's own pattern for a variable reference (public/app/features/variables/utils.ts,
# VARIABLE_REGEX): $var, [[var]] or [[var:fmt]], ${var}, ${var.field} or ${var:fmt}.
_VARIABLE_RE = re.compile(r"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^\}]+))?(?::([^\}]+))?\}")

# Grafana's interval variables stand for durations.  Each becomes a duration no dashboard writes by
# hand, so that a range or offset read back from the tree can be named again; an expression that
# already contains one of these spellings is refused rather than misread.
INTERVAL_PLACEHOLDERS: dict[str, str] = {
    "__rate_interval": "1000003ms",
    "__interval": "1000033ms",
    "__range": "1000037ms",
}
_INTERVALS = {pp.parse_duration(text): name for name, text in INTERVAL_PLACEHOLDERS.items()}
_NAME_PLACEHOLDER = "__grafana_var_{}__"
_NAME_PLACEHOLDER_RE = re.compile(r"__grafana_var_\d+__")

# promql-parser's enums compare equal but do not hash: a list of pairs, not a dict.
_MATCH_OPS = ((pp.MatchOp.Equal, "="), (pp.MatchOp.NotEqual, "!="), (pp.MatchOp.Re, "=~"), (pp.MatchOp.NotRe, "!~"))


def _match_op(op: pp.MatchOp) -> str:
    for known, text in _MATCH_OPS:
        if op == known:
            return text
    raise TypeError(f"unknown label matcher operator {op!r}")


@dataclass(frozen=True)
class GrafanaExpr:
    """A dashboard expression parsed by promql-parser, and how to spell its parts as the dashboard does."""

    text: str
    tree: pp.Expr
    names: dict[str, str]  # placeholder -> the variable as written ("$job", "${x:regex}")

    def restore(self, text: str) -> str:
        """`text` (a label value, label name or metric name from the tree) with variables put back."""
        return _NAME_PLACEHOLDER_RE.sub(lambda m: self.names.get(m.group(), m.group()), text)

    def duration(self, value: timedelta) -> str:
        """A range or offset from the tree as the dashboard writes it: ``$__rate_interval``, ``5m``."""
        if value in _INTERVALS:
            return "$" + _INTERVALS[value]
        return pp.display_duration(value)


def parse_grafana_expr(expr: str) -> GrafanaExpr:
    """Parse a dashboard expression with promql-parser, its Grafana variables replaced by placeholders."""
    for text in INTERVAL_PLACEHOLDERS.values():
        if text in expr:
            raise PromQLSyntaxError(f"{expr!r} contains {text}, the placeholder of a Grafana interval variable")
    if _NAME_PLACEHOLDER_RE.search(expr):
        raise PromQLSyntaxError(f"{expr!r} contains a Grafana variable placeholder")
    names: dict[str, str] = {}
    by_text: dict[str, str] = {}

    def replace(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2) or m.group(4)
        if name in INTERVAL_PLACEHOLDERS:
            return INTERVAL_PLACEHOLDERS[name]
        written = m.group()
        if written not in by_text:
            by_text[written] = _NAME_PLACEHOLDER.format(len(by_text))
            names[by_text[written]] = written
        return by_text[written]

    substituted = _VARIABLE_RE.sub(replace, expr)
    try:
        tree = pp.parse(substituted)
    except ValueError as exc:
        shown = f" (parsed as {substituted!r})" if substituted != expr else ""
        raise PromQLSyntaxError(f"{expr!r}{shown}: {exc}") from exc
    return GrafanaExpr(expr, tree, names)


def parse_references(expr: str) -> References:
    """The metric names, matchers and grouping labels one dashboard expression reads."""
    parsed = parse_grafana_expr(expr)
    return _References(parsed).of(parsed.tree)


class _References:
    """Walks promql-parser's tree bottom-up, keeping which metrics each subtree reads."""

    # Functions that read labels named by string arguments, and which arguments name them.
    _LABEL_ARGUMENTS = {
        "label_replace": slice(3, 4),  # label_replace(v, dst, replacement, src, regex)
        "label_join": slice(3, None),  # label_join(v, dst, separator, src...)
        "sort_by_label": slice(1, None),  # sort_by_label(v, label...)
        "sort_by_label_desc": slice(1, None),
    }

    def __init__(self, parsed: GrafanaExpr) -> None:
        self.parsed = parsed

    def labels(self, labels: list[str] | None) -> tuple[str, ...]:
        return tuple(self.parsed.restore(label) for label in labels or ())

    def of(self, node: pp.Expr) -> References:
        if isinstance(node, pp.VectorSelector):
            return self.selector(node)
        if isinstance(node, pp.MatrixSelector):
            return self.selector(node.vector_selector)
        if isinstance(node, (pp.ParenExpr, pp.UnaryExpr, pp.SubqueryExpr)):
            return self.of(node.expr)
        if isinstance(node, (pp.NumberLiteral, pp.StringLiteral)):
            return References()
        if isinstance(node, pp.AggregateExpr):
            return self.aggregation(node)
        if isinstance(node, pp.BinaryExpr):
            return self.binary(node)
        if isinstance(node, pp.Call):
            return self.call(node)
        raise TypeError(f"no reference rule for {type(node).__name__} in {self.parsed.text!r}")

    def selector(self, node: pp.VectorSelector) -> References:
        # `x{a="1" or b="2"}` selects the union of one selector per alternative.
        alternatives = node.matchers.or_matchers or [node.matchers.matchers]
        selectors = []
        for matchers in alternatives:
            metric = self.parsed.restore(node.name) if node.name else None
            rest = []
            for m in matchers:
                if m.name == "__name__" and m.op == pp.MatchOp.Equal:
                    metric = self.parsed.restore(m.value)
                else:
                    rest.append(Matcher(self.parsed.restore(m.name), _match_op(m.op), self.parsed.restore(m.value)))
            selectors.append(Selector(metric, tuple(rest)))
        return References(selectors=selectors)

    def aggregation(self, node: pp.AggregateExpr) -> References:
        refs = self.of(node.param) if node.param is not None else References()
        inner = self.of(node.expr)
        refs.merge(inner)
        if node.modifier is not None and node.modifier.labels:
            clause = "by" if node.modifier.type == pp.AggModifierType.By else "without"
            refs.groupings.append(Grouping(clause, self.labels(node.modifier.labels), frozenset(inner.metrics)))
        return refs

    def binary(self, node: pp.BinaryExpr) -> References:
        refs = self.of(node.lhs)
        refs.merge(self.of(node.rhs))
        modifier = node.modifier
        if modifier is None:
            return refs
        metrics = frozenset(refs.metrics)
        if modifier.matching is not None and modifier.matching.labels:
            clause = "on" if modifier.matching.type == pp.LabelModifierType.Include else "ignoring"
            refs.groupings.append(Grouping(clause, self.labels(modifier.matching.labels), metrics))
        if modifier.group_labels:
            clause = "group_left" if modifier.card == pp.VectorMatchCardinality.ManyToOne else "group_right"
            refs.groupings.append(Grouping(clause, self.labels(modifier.group_labels), metrics))
        return refs

    def call(self, node: pp.Call) -> References:
        refs = References()
        for arg in node.args:
            refs.merge(self.of(arg))
        label_args = self._LABEL_ARGUMENTS.get(node.func.name)
        if label_args is not None and node.args:
            named = [self.parsed.restore(a.val) for a in node.args[label_args] if isinstance(a, pp.StringLiteral)]
            if any(named):
                metrics = frozenset(self.of(node.args[0]).metrics)
                refs.groupings.append(Grouping(node.func.name, tuple(n for n in named if n), metrics))
        return refs


# Grafana's Prometheus data source reads a label_values() variable query with this pattern
# (labelValuesRegex in public/app/plugins/datasource/prometheus/metric_find_query.ts).
_LABEL_VALUES_RE = re.compile(r"^label_values\((?:(?P<selector>.+),\s*)?(?P<label>[a-zA-Z_][a-zA-Z0-9_]*)\)\s*$")


def split_label_values_query(query: str) -> tuple[str | None, str]:
    """Grafana's ``label_values([selector, ]label)`` variable query: the selector's text (or None) and the label."""
    m = _LABEL_VALUES_RE.match(query)
    if not m:
        raise PromQLSyntaxError(f"not a label_values([selector, ]label) query: {query!r}")
    return m.group("selector"), m.group("label")


def parse_label_values_query(query: str) -> tuple[References, str]:
    """A label_values() variable query: what its selector reads, and the label it lists."""
    selector, label = split_label_values_query(query)
    return (parse_references(selector) if selector else References()), label
