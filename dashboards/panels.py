"""Small builders over grafanalib: panels with a unit, thresholds and a query list, laid out in rows.

Every panel built here has a unit (required argument) and thresholds; the
adapter (``dashboards.adapter``) then fixes what grafanalib itself gets wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from grafanalib import core as g

from .adapter import DATASOURCE

__all__ = ["Query", "Row", "timeseries", "stat", "query_variable", "dashboard", "GRID_WIDTH"]

GRID_WIDTH = 24


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""


@dataclass
class Row:
    title: str
    panels: list = field(default_factory=list)


def _thresholds(steps: tuple[tuple[str, float | None], ...]) -> list[g.Threshold]:
    if not steps:
        steps = (("green", None),)
    return [g.Threshold(color, index, 0.0 if value is None else float(value)) for index, (color, value) in enumerate(steps)]


def _targets(queries: tuple[Query, ...]) -> list[g.Target]:
    if not queries:
        raise ValueError("a panel needs at least one query")
    return [g.Target(expr=q.expr, legendFormat=q.legend, datasource=DATASOURCE) for q in queries]


def timeseries(
    title: str,
    *queries: Query,
    unit: str,
    description: str,
    thresholds: tuple[tuple[str, float | None], ...] = (),
    width: int = 12,
    height: int = 8,
    stacked: bool = False,
    min_value: int | None = 0,
) -> g.TimeSeries:
    """A time series panel (the current replacement of the Angular ``graph``)."""
    if not unit:
        raise ValueError(f"{title}: every panel needs a unit")
    return g.TimeSeries(
        title=title,
        description=description,
        dataSource=DATASOURCE,
        targets=_targets(queries),
        unit=unit,
        thresholds=_thresholds(thresholds),
        thresholdsStyleMode="line" if thresholds else "off",
        stacking={"mode": "normal", "group": "A"} if stacked else {},
        fillOpacity=20 if stacked else 10,
        valueMin=min_value,
        legendDisplayMode="table",
        legendPlacement="bottom",
        legendCalcs=["mean", "max", "lastNotNull"],
        tooltipMode="multi",
        tooltipSort="desc",
        gridPos=g.GridPos(h=height, w=width, x=0, y=0),
    )


def stat(
    title: str,
    query: Query,
    *,
    unit: str,
    description: str,
    thresholds: tuple[tuple[str, float | None], ...],
    width: int = 6,
    height: int = 4,
    mappings: list | None = None,
) -> g.Stat:
    """A single-value panel (the current replacement of the Angular ``singlestat``)."""
    if not unit:
        raise ValueError(f"{title}: every panel needs a unit")
    return g.Stat(
        title=title,
        description=description,
        dataSource=DATASOURCE,
        targets=_targets((query,)),
        format=unit,
        color={"mode": "thresholds"},  # the background follows the thresholds, not a palette
        thresholds=_thresholds(thresholds),
        reduceCalc="lastNotNull",
        colorMode="background",
        graphMode="area",
        noValue="no data",
        mappings=mappings or [],
        gridPos=g.GridPos(h=height, w=width, x=0, y=0),
    )


def query_variable(
    name: str,
    label: str,
    query: str,
    *,
    default: str | None = None,
    include_all: bool = True,
    multi: bool = True,
    all_value: str | None = ".+",
    hidden: bool = False,
) -> g.Template:
    """A template variable filled from ``label_values(...)``; "All" matches every non-empty value.

    ``all_value=None`` makes "All" Grafana's own: the alternation of the values the query listed
    (what a variable chained on another one needs, so that "All" means all of *those*).
    ``hidden`` keeps the variable off the dashboard's header (it still takes ``var-<name>`` in a URL).
    """
    return g.Template(
        name=name,
        label=label,
        query=query,
        dataSource=DATASOURCE,
        default=default if default is not None else ("$__all" if include_all else None),
        includeAll=include_all,
        multi=multi,
        allValue=all_value if include_all else None,
        refresh=g.REFRESH_ON_TIME_RANGE_CHANGE,
        sort=g.SORT_ALPHA_ASC,
        hide=g.HIDE_VARIABLE if hidden else g.SHOW,
    )


def _layout(rows: list[Row]) -> list:
    """Place panels left to right, wrapping at 24 columns, each row under a collapsible row header."""
    import attr

    placed: list = []
    y = 0
    for row in rows:
        placed.append(g.RowPanel(title=row.title, gridPos=g.GridPos(h=1, w=GRID_WIDTH, x=0, y=y)))
        y += 1
        x = 0
        line_height = 0
        for panel in row.panels:
            w, h = panel.gridPos.w, panel.gridPos.h
            if x + w > GRID_WIDTH:
                y += line_height
                x, line_height = 0, 0
            placed.append(attr.evolve(panel, gridPos=g.GridPos(h=h, w=w, x=x, y=y)))
            x += w
            line_height = max(line_height, h)
        y += line_height
    return placed


def dashboard(
    *,
    title: str,
    uid: str,
    description: str,
    tags: list[str],
    variables: list[g.Template],
    rows: list[Row],
) -> g.Dashboard:
    return g.Dashboard(
        title=title,
        uid=uid,
        description=description,
        tags=["monstack", *tags],
        editable=False,
        graphTooltip=g.GRAPH_TOOLTIP_MODE_SHARED_CROSSHAIR,
        refresh="30s",
        time=g.Time("now-1h", "now"),
        timezone="browser",
        templating=g.Templating(list=variables),
        panels=_layout(rows),
    )
