"""The daily report's figures as charts: Apache ECharts options, the same in the HTML report and the workbench's
dashboard (`/app/dashboard`). The options carry the figures themselves, so a test can read them back from the
page (or from the drawn chart in a browser) and check them against the database.

ECharts 5.6.0 is vendored under reporting/static (Apache License 2.0, its licence beside it), so nothing is fetched
when a page is drawn."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from markupsafe import Markup

from reporting.figures import STAGE_LABELS, DailyReport

ECHARTS = Path(__file__).parent / "static" / "echarts-5.6.0.min.js"
"""The ECharts library the report inlines and the workbench serves (`/app/static/`)."""
TYPES = {"auto": "车险 motor", "health": "健康险 health", "property": "财产险 property"}
PATHS = {"fast": "快速通道 fast", "standard": "标准 standard", "green": "绿色通道 green"}
CLOCKS = {"documents": "补材料 documents", "determination": "核定 determination", "investigation": "调查 investigation",
          "approval": "审批 approval", "payment": "支付 payment"}
TITLES = {"by_type": "按险种：结案数与赔付金额 · Claims closed and paid by type",
          "stage_hours": "各阶段平均用时（小时）· Average hours per stage",
          "sla": "时效达成率（%）· SLA compliance per clock",
          "fast_path": "快速通道占比 · Fast-path share",
          "trend": "近 30 天趋势 · 30-day trend",
          "satisfaction": "满意度评分分布 · Survey scores",
          "complaints": "投诉（按类别）· Complaints by category"}
CATEGORIES = {"decision": "理赔决定 decision", "delay": "时效 delay", "staff": "人员 staff", "letter": "信函 letter",
              "payment": "支付 payment", "other": "其他 other"}
CHARTS = ("by_type", "trend", "stage_hours", "sla", "fast_path", "satisfaction", "complaints")
"""The charts a page draws, in order."""

DRAW_CHARTS = """
(function () {
  var options = JSON.parse(document.getElementById('chart-options').textContent);
  Object.keys(options).forEach(function (name) {
    var el = document.getElementById('chart-' + name);
    if (el) { echarts.init(el, null, {renderer: 'canvas'}).setOption(options[name]); }
  });
})();
"""
"""Draws every chart whose options the page carries in `#chart-options` into its `#chart-<name>`."""


def _bar(title: str, names: list[str], values: list[Any], unit: str = "") -> dict[str, Any]:
    return {"title": {"text": title, "textStyle": {"fontSize": 14}}, "tooltip": {},
            "grid": {"left": 60, "right": 20, "bottom": 60},
            "xAxis": {"type": "category", "data": names, "axisLabel": {"interval": 0, "rotate": 20}},
            "yAxis": {"type": "value", "name": unit}, "series": [{"type": "bar", "data": values}]}


def chart_options(report: DailyReport) -> dict[str, dict[str, Any]]:
    types = list(TYPES)
    by_type = {
        "title": {"text": TITLES["by_type"], "textStyle": {"fontSize": 14}}, "tooltip": {}, "legend": {"bottom": 0},
        "xAxis": {"type": "category", "data": [TYPES[t] for t in types]},
        "yAxis": [{"type": "value", "name": "件 claims"}, {"type": "value", "name": "¥"}],
        "series": [{"name": "结案 closed", "type": "bar", "data": [report.closed.get(t, 0) for t in types]},
                   {"name": "赔付 paid", "type": "bar", "yAxisIndex": 1,
                    "data": [float(report.paid.get(t, 0)) for t in types]}]}
    stages = [s for s in STAGE_LABELS if s in report.stage_hours]
    clocks = sorted(report.sla)
    fast_path = {"title": {"text": TITLES["fast_path"], "textStyle": {"fontSize": 14}}, "tooltip": {},
                 "legend": {"bottom": 0},
                 "series": [{"type": "pie", "radius": ["35%", "60%"],
                             "data": [{"name": PATHS.get(p, p), "value": n} for p, n in sorted(report.paths.items())]}]}
    trend = {"title": {"text": TITLES["trend"], "textStyle": {"fontSize": 14}}, "tooltip": {"trigger": "axis"},
             "legend": {"bottom": 0}, "grid": {"left": 50, "right": 60, "bottom": 60},
             "xAxis": {"type": "category", "data": [d.day.isoformat()[5:] for d in report.trend]},
             "yAxis": [{"type": "value", "name": "件 claims"}, {"type": "value", "name": "¥"}],
             "series": [{"name": "受理 received", "type": "line", "data": [d.received for d in report.trend]},
                        {"name": "结案 closed", "type": "line", "data": [d.closed for d in report.trend]},
                        {"name": "赔付 paid", "type": "bar", "yAxisIndex": 1,
                         "data": [float(d.paid) for d in report.trend]}]}
    satisfaction = _bar(TITLES["satisfaction"], [f"{score} 分" for score in range(1, 6)],
                        [report.scores.get(score, 0) for score in range(1, 6)], "件 answers")
    complaints = {"title": {"text": TITLES["complaints"], "textStyle": {"fontSize": 14}}, "tooltip": {},
                  "legend": {"bottom": 0},
                  "series": [{"type": "pie", "radius": ["35%", "60%"],
                              "data": [{"name": CATEGORIES.get(c, c), "value": n}
                                       for c, n in sorted(report.complaints_received.items())]}]}
    charts = {
        "by_type": by_type,
        "stage_hours": _bar(TITLES["stage_hours"], [STAGE_LABELS[s] for s in stages],
                            [round(report.stage_hours[s], 4) for s in stages], "h"),
        "sla": _bar(TITLES["sla"], [CLOCKS.get(c, c) for c in clocks],
                    [round(report.sla[c]["compliance"] * 100, 1) for c in clocks], "%"),
        "fast_path": fast_path,
        "trend": trend,
        "satisfaction": satisfaction,
        "complaints": complaints,
    }
    for options in charts.values():
        options["animation"] = False  # drawn at once: printed reports and screenshots show the final figures
    return charts


def charts_json(options: dict[str, dict[str, Any]]) -> Markup:
    """The options as JSON safe to place inside a `<script type="application/json">` element."""
    return Markup(json.dumps(options, ensure_ascii=False).replace("</", "<\\/"))
