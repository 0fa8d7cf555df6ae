"""The weekly 专报 as one standalone HTML file (the stored copy, ``--format html``): the same template as the
page, rendered without Flask, with the vendored ECharts inlined so that the file opens anywhere offline."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from ..processes.problem_text import tr
from ..volunteers.reports import SUMMARY
from .weekly_text import rate, signed, signed_rate

TEMPLATES = Path(__file__).parent / "templates"
ECHARTS = Path(__file__).resolve().parents[1] / "static" / "vendor" / "echarts" / "echarts.min.js"
STATIC = Path(__file__).resolve().parents[1] / "static"
CSS = STATIC / "css" / "scores_weekly.css"
CHARTS = STATIC / "js" / "weekly_charts.js"


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    env.globals.update(_=tr, rate=rate, signed=signed, signed_rate=signed_rate, volunteer_labels=SUMMARY)
    return env


def render_html(figures: dict) -> str:
    echarts = ECHARTS.read_text(encoding="utf-8") if ECHARTS.exists() else ""
    return _environment().get_template("reports/weekly_standalone.html").render(
        figures=figures, echarts_inline=echarts, charts_inline=CHARTS.read_text(encoding="utf-8"),
        css=CSS.read_text(encoding="utf-8"))
