"""What a PromQL expression reads: metric names, label matchers, grouping labels.

A small recursive-descent reader for the PromQL the dashboards use (selectors,
range and subquery brackets, functions, aggregations with ``by``/``without``,
binary operators with ``on``/``ignoring``/``group_left``/``group_right``,
``offset`` and ``@``).  It does not evaluate anything; it answers "which series
and labels does this expression depend on?" so that tests can compare the
answer with what an exporter really emits.

It fails loudly (``PromQLSyntaxError``) on anything it does not understand, an
unknown function included: a reference must never be skipped silently.  The
real syntax check is ``promtool check rules`` (see tests/dashboards); this
module only extracts references.

Grafana variables (``$name``, ``${name}``, ``[[name]]`` is not supported) may
appear in label values and range brackets (``[$__rate_interval]``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = [
    "PromQLSyntaxError",
    "Matcher",
    "Selector",
    "Grouping",
    "References",
    "parse_references",
    "parse_label_values_query",
    "FUNCTIONS",
    "AGGREGATIONS",
]


class PromQLSyntaxError(ValueError):
    """The expression is not PromQL this reader understands."""


# PromQL functions of Prometheus 2.42 to 3.5 (those a dashboard could call).
FUNCTIONS = frozenset(
    """abs absent absent_over_time acos acosh asin asinh atan atanh avg_over_time ceil changes
    clamp clamp_max clamp_min cos cosh count_over_time day_of_month day_of_week day_of_year
    days_in_month deg delta deriv exp floor histogram_avg histogram_count histogram_fraction
    histogram_quantile histogram_stddev histogram_stdvar histogram_sum holt_winters
    double_exponential_smoothing hour idelta increase irate label_join label_replace last_over_time
    ln log10 log2 mad_over_time max_over_time min_over_time minute month pi predict_linear
    present_over_time quantile_over_time rad rate resets round scalar sgn sin sinh sort sort_by_label
    sort_by_label_desc sort_desc sqrt stddev_over_time stdvar_over_time sum_over_time tan tanh time
    timestamp vector year""".split()
)
AGGREGATIONS = frozenset(
    "sum min max avg group stddev stdvar count count_values bottomk topk quantile limitk limit_ratio".split()
)
_SET_OPERATORS = frozenset({"and", "or", "unless", "atan2"})
_KEYWORDS = frozenset(
    {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset"}
) | _SET_OPERATORS
_BINARY_SYMBOLS = frozenset({"+", "-", "*", "/", "%", "^", "==", "!=", "<=", ">=", "<", ">"})
_MATCH_OPS = frozenset({"=", "!=", "=~", "!~"})

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<comment>\#[^\n]*)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<var>\$\{[A-Za-z_][A-Za-z0-9_]*(?::[A-Za-z_]+)?\}|\$[A-Za-z_][A-Za-z0-9_]*)
  | (?P<duration>(?:\d+(?:ms|s|m|h|d|w|y))+(?![A-Za-z0-9_]))
  | (?P<number>0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_:]*)
  | (?P<op>==|!=|<=|>=|=~|!~|[-+*/%^<>=])
  | (?P<punct>[(){}\[\],:@])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Matcher:
    label: str
    op: str
    value: str


@dataclass(frozen=True)
class Selector:
    """One vector selector: the metric name (None for ``{__name__=...}`` forms) and its matchers."""

    metric: str | None
    matchers: tuple[Matcher, ...] = ()


@dataclass(frozen=True)
class Grouping:
    """Labels named by a clause (``by``, ``without``, ``on``, ...) and the metrics they apply to."""

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

    def merge(self, other: "References") -> None:
        self.selectors.extend(other.selectors)
        self.groupings.extend(other.groupings)


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    pos: int


def _tokenize(expr: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos = 0
    while pos < len(expr):
        m = _TOKEN_RE.match(expr, pos)
        if not m:
            raise PromQLSyntaxError(f"unexpected character {expr[pos]!r} at {pos} in {expr!r}")
        kind = m.lastgroup
        if kind not in ("ws", "comment"):
            tokens.append(_Tok(kind, m.group(), pos))
        pos = m.end()
    tokens.append(_Tok("eof", "", len(expr)))
    return tokens


def _unquote(text: str) -> str:
    if text[0] == "`":
        return text[1:-1]
    body = text[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)


class _Parser:
    def __init__(self, expr: str) -> None:
        self.expr = expr
        self.toks = _tokenize(expr)
        self.i = 0

    # -- token helpers -------------------------------------------------
    def peek(self, offset: int = 0) -> _Tok:
        return self.toks[min(self.i + offset, len(self.toks) - 1)]

    def next(self) -> _Tok:
        tok = self.peek()
        self.i += 1
        return tok

    def error(self, message: str) -> PromQLSyntaxError:
        tok = self.peek()
        return PromQLSyntaxError(f"{message} at {tok.pos} ({tok.text!r}) in {self.expr!r}")

    def expect(self, text: str) -> _Tok:
        tok = self.next()
        if tok.text != text:
            self.i -= 1
            raise self.error(f"expected {text!r}")
        return tok

    def accept(self, text: str) -> bool:
        if self.peek().text == text and self.peek().kind != "string":
            self.i += 1
            return True
        return False

    # -- grammar ---------------------------------------------------------
    def parse(self) -> References:
        refs = self.expression()
        if self.peek().kind != "eof":
            raise self.error("unexpected trailing input")
        return refs

    def is_binary_operator(self) -> bool:
        tok = self.peek()
        if tok.kind == "op" and tok.text in _BINARY_SYMBOLS:
            return True
        return tok.kind == "ident" and tok.text in _SET_OPERATORS

    def expression(self) -> References:
        refs = self.unary()
        while self.is_binary_operator():
            self.next()
            self.accept("bool")
            matching: list[tuple[str, tuple[str, ...]]] = []
            if self.peek().text in ("on", "ignoring"):
                clause = self.next().text
                matching.append((clause, self.label_list()))
                if self.peek().text in ("group_left", "group_right"):
                    clause = self.next().text
                    labels = self.label_list() if self.peek().text == "(" else ()
                    matching.append((clause, labels))
            rhs = self.unary()
            metrics = frozenset(refs.metrics | rhs.metrics)
            refs.merge(rhs)
            for clause, labels in matching:
                if labels:
                    refs.groupings.append(Grouping(clause, labels, metrics))
        return refs

    def unary(self) -> References:
        if self.peek().kind == "op" and self.peek().text in ("-", "+"):
            self.next()
            return self.unary()
        refs = self.primary()
        self.postfix()
        return refs

    def postfix(self) -> None:
        while True:
            if self.peek().text == "[":
                self.next()
                self.duration()
                if self.accept(":"):
                    if self.peek().text != "]":
                        self.duration()
                self.expect("]")
            elif self.peek().text == "offset":
                self.next()
                self.accept("-")
                self.duration()
            elif self.peek().text == "@":
                self.next()
                tok = self.next()
                if tok.kind == "ident" and tok.text in ("start", "end"):
                    self.expect("(")
                    self.expect(")")
                elif tok.kind != "number":
                    self.i -= 1
                    raise self.error("expected a timestamp after @")
            else:
                return

    def duration(self) -> None:
        tok = self.next()
        if tok.kind not in ("duration", "var", "number"):
            self.i -= 1
            raise self.error("expected a duration")

    def primary(self) -> References:
        tok = self.peek()
        if tok.kind in ("number", "string"):
            self.next()
            return References()
        if tok.text == "(":
            self.next()
            refs = self.expression()
            self.expect(")")
            return refs
        if tok.text == "{":
            return self.selector(None)
        if tok.kind == "ident":
            name = tok.text
            lowered = name.lower()
            if lowered in ("inf", "nan"):
                self.next()
                return References()
            if name in AGGREGATIONS and self.peek(1).text in ("(", "by", "without"):
                return self.aggregation()
            if self.peek(1).text == "(":
                if name not in FUNCTIONS:
                    raise self.error(f"unknown function {name!r}")
                return self.function()
            if name in _KEYWORDS:
                raise self.error(f"unexpected keyword {name!r}")
            self.next()
            return self.selector(name)
        raise self.error("expected an expression")

    def selector(self, metric: str | None) -> References:
        matchers: list[Matcher] = []
        if self.accept("{"):
            while not self.accept("}"):
                label = self.next()
                if label.kind != "ident":
                    self.i -= 1
                    raise self.error("expected a label name")
                op = self.next()
                if op.text not in _MATCH_OPS:
                    self.i -= 1
                    raise self.error("expected a label matcher operator")
                value = self.next()
                if value.kind != "string":
                    self.i -= 1
                    raise self.error("expected a quoted label value")
                matchers.append(Matcher(label.text, op.text, _unquote(value.text)))
                if not self.accept(","):
                    self.expect("}")
                    break
        if metric is None:
            names = [m.value for m in matchers if m.label == "__name__" and m.op == "="]
            metric = names[0] if names else None
            matchers = [m for m in matchers if m.label != "__name__"]
            if metric is None and not matchers:
                raise self.error("empty selector")
        return References(selectors=[Selector(metric, tuple(matchers))])

    def label_list(self) -> tuple[str, ...]:
        self.expect("(")
        labels: list[str] = []
        while not self.accept(")"):
            tok = self.next()
            if tok.kind != "ident":
                self.i -= 1
                raise self.error("expected a label name")
            labels.append(tok.text)
            if not self.accept(","):
                self.expect(")")
                break
        return tuple(labels)

    def arguments(self) -> list[References]:
        self.expect("(")
        args: list[References] = []
        if self.accept(")"):
            return args
        while True:
            args.append(self.expression())
            if self.accept(")"):
                return args
            self.expect(",")

    def aggregation(self) -> References:
        self.next()  # the operator
        groupings: list[tuple[str, tuple[str, ...]]] = []
        if self.peek().text in ("by", "without"):
            clause = self.next().text
            groupings.append((clause, self.label_list()))
        args = self.arguments()
        if not args:
            raise self.error("aggregation without an argument")
        if self.peek().text in ("by", "without"):
            clause = self.next().text
            groupings.append((clause, self.label_list()))
        refs = References()
        for arg in args:
            refs.merge(arg)
        inner = frozenset(args[-1].metrics)
        for clause, labels in groupings:
            if labels:
                refs.groupings.append(Grouping(clause, labels, inner))
        return refs

    def function(self) -> References:
        name_tok = self.next()
        start = self.i
        args = self.arguments()
        refs = References()
        for arg in args:
            refs.merge(arg)
        # label_replace(v, dst, replacement, src, regex) and label_join(v, dst, sep, src...) read labels
        # named by string arguments: keep them as references too.
        if name_tok.text in ("label_replace", "label_join"):
            strings = [t for t in self.toks[start : self.i] if t.kind == "string"]
            src = strings[2:3] if name_tok.text == "label_replace" else strings[2:]
            labels = tuple(_unquote(t.text) for t in src if _unquote(t.text))
            if labels and args:
                refs.groupings.append(Grouping(name_tok.text, labels, frozenset(args[0].metrics)))
        return refs


def parse_references(expr: str) -> References:
    """The metric names, matchers and grouping labels one PromQL expression reads."""
    return _Parser(expr).parse()


_LABEL_VALUES_RE = re.compile(r"^\s*label_values\(\s*(?:(?P<selector>.+?)\s*,\s*)?(?P<label>[A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$")


def parse_label_values_query(query: str) -> tuple[References, str]:
    """Grafana's ``label_values(selector, label)`` variable query: the selector's references and the label."""
    m = _LABEL_VALUES_RE.match(query)
    if not m:
        raise PromQLSyntaxError(f"not a label_values(selector, label) query: {query!r}")
    refs = parse_references(m.group("selector")) if m.group("selector") else References()
    return refs, m.group("label")
