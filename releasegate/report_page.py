"""`releasegate report --html FILE`: the report as one self-contained HTML page.

Everything is in the file: the styles, the figures, the charts as inline SVG
(`releasegate.charts`). Its Content-Security-Policy forbids loading anything, so a page
opened from a mail or a CI artifact makes no request at all.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from releasegate.charts import CHARTS
from releasegate.errors import UsageError
from releasegate.policy.figures import EnvironmentFigures, Report

POLICY = "default-src 'none'; style-src 'unsafe-inline'"
CSS = """
body { font-family: 'DejaVu Sans', Helvetica, Arial, sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
.period { color: #666; margin-top: 0; }
section { margin-top: 2.5em; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { text-align: left; padding: 0.3em 1em 0.3em 0; border-bottom: 1px solid #ddd; }
th { font-weight: 600; white-space: nowrap; }
td.no-data { color: #a15c00; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap: 1em; }
.chart svg { width: 100%; height: auto; border: 1px solid #eee; }
"""


def page(report: Report) -> str:
    """The HTML of the whole report."""
    sections = "\n".join(_section(figures) for figures in report.environments)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{POLICY}">
<title>releasegate report</title>
<style>{CSS}</style>
</head>
<body>
<h1>Deployments and gates</h1>
<p class="period">From {report.since:%Y-%m-%d %H:%M} to {report.generated_at:%Y-%m-%d %H:%M} UTC,
computed from the audit trail by <code>releasegate report</code>.</p>
{sections}
</body>
</html>
"""


def write(report: Report, path: Path) -> Path:
    """Write the page to `path`; UsageError (exit 2) if it cannot be written there."""
    try:
        path.write_text(page(report), encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--html {path}: cannot write the report: {exc.strerror}") from None
    return path.resolve()


def _section(figures: EnvironmentFigures) -> str:
    rows = "\n".join(
        f"<tr><th>{escape(label)}</th><td{_class(text)}>{escape(text)}</td></tr>"
        for label, text in figures.say()
    )
    charts = "\n".join(f'<div class="chart">{draw(figures)}</div>' for draw in CHARTS)
    return f"""<section id="env-{escape(figures.environment)}">
<h2>{escape(figures.environment)}</h2>
<table>
{rows}
</table>
<div class="charts">
{charts}
</div>
</section>"""


def _class(text: str) -> str:
    return ' class="no-data"' if text.startswith(("no data", "unknown")) else ""
