"""The report as one self-contained HTML page: inline CSS and SVG, no script, no external asset.

``report_fragment`` is the body (a ``<section class="iamd-review">`` with its own scoped style) so
that the console's Security review page shows the same content; ``render_html`` wraps it in a page.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Final

from iamd.practices.model import PRACTICES, SEVERITIES, Finding, Report

__all__ = ["REVIEW_CSS", "render_html", "report_fragment"]

_COLORS: Final = {
    "critical": "#7f1d1d",
    "high": "#c2410c",
    "medium": "#b45309",
    "low": "#2563eb",
    "informational": "#64748b",
}
_STATUS: Final = {
    "pass": "Pass",
    "fail": "Fail",
    "not_evaluated": "Not evaluated",
    "not_applicable": "Not applicable",
}

_CSS_BASE: Final = """
.iamd-review{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#0f172a;
max-width:1100px;margin:0 auto}
.iamd-review h1{font-size:22px;margin:8px 0}
.iamd-review h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #e2e8f0;padding-bottom:4px}
.iamd-review .meta{color:#475569}
.iamd-review .cards{display:flex;flex-wrap:wrap;gap:12px}
.iamd-review .card{border:1px solid #e2e8f0;border-radius:8px;padding:10px;width:120px;text-align:center}
.iamd-review .card .name{font-size:12px;color:#334155;min-height:32px}
.iamd-review .charts{display:flex;flex-wrap:wrap;gap:20px}
.iamd-review figure{margin:0;border:1px solid #e2e8f0;border-radius:8px;padding:10px}
.iamd-review figcaption{font-weight:600;margin-bottom:6px}
.iamd-review table{border-collapse:collapse;width:100%}
.iamd-review th,
.iamd-review td{text-align:left;padding:4px 8px;border-bottom:1px solid #e2e8f0;vertical-align:top}
.iamd-review .sev{display:inline-block;padding:0 6px;border-radius:4px;color:#fff;font-size:12px}
.iamd-review .st-fail{color:#b91c1c;font-weight:600}
.iamd-review .st-pass{color:#15803d}
.iamd-review .st-not_evaluated,
.iamd-review .st-not_applicable{color:#475569}
.iamd-review .finding{border-left:4px solid #cbd5e1;padding:6px 10px;margin:8px 0;background:#f8fafc}
.iamd-review .fix{color:#14532d}
.iamd-review code{font-size:12px;word-break:break-all}
.iamd-review pre{background:#0f172a;color:#e2e8f0;padding:8px;border-radius:6px;overflow:auto;font-size:12px}
.iamd-review .path,.iamd-review .scroll{overflow-x:auto;max-width:100%}
.iamd-review figure{max-width:100%;overflow-x:auto;box-sizing:border-box}
"""


REVIEW_CSS: Final = _CSS_BASE + "".join(
    f".iamd-review .sev-{name}{{background:{color}}}\n"
    f".iamd-review .finding-{name}{{border-left-color:{color}}}\n"
    for name, color in _COLORS.items()
)
"""The report's style sheet (scoped to ``.iamd-review``)."""


def _sev(severity: str) -> str:
    return f'<span class="sev sev-{escape(severity)}">{escape(severity)}</span>'


def _ring(score: int | None) -> str:
    """A score ring: the arc's length is the score."""
    radius, width = 26, 8
    circumference = 2 * 3.14159 * radius
    if score is None:
        arc, color, label = 0.0, "#cbd5e1", "n/a"
    else:
        arc = circumference * score / 100
        color = "#15803d" if score >= 80 else "#b45309" if score >= 50 else "#b91c1c"
        label = f"{score}"
    return (
        f'<svg width="70" height="70" viewBox="0 0 70 70" role="img" aria-label="score {label}">'
        f'<circle cx="35" cy="35" r="{radius}" fill="none" stroke="#e2e8f0" stroke-width="{width}"/>'
        f'<circle cx="35" cy="35" r="{radius}" fill="none" stroke="{color}" stroke-width="{width}" '
        f'stroke-dasharray="{arc:.1f} {circumference:.1f}" transform="rotate(-90 35 35)"/>'
        f'<text x="35" y="40" text-anchor="middle" font-size="15" font-weight="600">{label}</text></svg>'
    )


def _bars(
    label: str, labels: Sequence[str], series: Sequence[tuple[str, str, Sequence[int]]], height: int = 160
) -> str:
    """A (grouped) bar chart: ``series`` is (name, color, values per label)."""
    top = max([1, *(v for _, _, values in series for v in values)])
    group = max(18 * len(series) + 14, 78)
    width = 40 + group * len(labels)
    said = "; ".join(
        f"{name}: " + ", ".join(f"{x} {v}" for x, v in zip(labels, values, strict=False))
        for name, _, values in series
    )
    parts = [
        f'<svg width="{width}" height="{height + 60}" role="img" '
        f'aria-label="{escape(label)}. {escape(said)}">'
    ]
    parts.append(f'<line x1="30" y1="{height}" x2="{width}" y2="{height}" stroke="#94a3b8"/>')
    for i, label in enumerate(labels):
        x0 = 36 + i * group
        for j, (_, color, values) in enumerate(series):
            value = values[i]
            h = round((height - 20) * value / top)
            x = x0 + (group - 18 * len(series)) // 2 + j * 18
            parts.append(
                f'<rect x="{x}" y="{height - h}" width="16" height="{h}" fill="{color}">'
                f"<title>{value}</title></rect>"
            )
            parts.append(
                f'<text x="{x + 8}" y="{height - h - 3}" text-anchor="middle" font-size="10">{value}</text>'
            )
        parts.append(
            f'<text x="{x0 + group / 2}" y="{height + 14}" text-anchor="middle" '
            f'font-size="10">{escape(label)}</text>'
        )
    for j, (name, color, _) in enumerate(series):
        parts.append(f'<rect x="{36 + j * 130}" y="{height + 30}" width="10" height="10" fill="{color}"/>')
        parts.append(f'<text x="{50 + j * 130}" y="{height + 39}" font-size="11">{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _stacked(parts: Sequence[tuple[str, str, int]]) -> str:
    """A horizontal stacked bar with a legend (MFA coverage)."""
    total = sum(v for _, _, v in parts) or 1
    said = ", ".join(f"{name}: {value}" for name, _, value in parts)
    out = [f'<svg width="360" height="90" role="img" aria-label="MFA coverage. {escape(said)}">']
    x = 0.0
    for name, color, value in parts:
        w = 340 * value / total
        out.append(
            f'<rect x="{x + 10:.1f}" y="10" width="{w:.1f}" height="26" fill="{color}">'
            f"<title>{escape(name)}: {value}</title></rect>"
        )
        x += w
    for i, (name, color, value) in enumerate(parts):
        out.append(f'<rect x="10" y="{46 + i * 14}" width="10" height="10" fill="{color}"/>')
        out.append(f'<text x="26" y="{55 + i * 14}" font-size="11">{escape(name)}: {value}</text>')
    out.append("</svg>")
    return "".join(out)


def _path_graph(finding: Finding) -> str:
    """An escalation path: the principal, each proven step, the administrator it ends at."""
    nodes = [("principal", finding.resource.rsplit(":", 1)[-1], "#0f172a")]
    nodes += [(s.action, s.resource.rsplit(":", 1)[-1], "#c2410c") for s in finding.path]
    nodes.append(("administrator", (finding.target or "").rsplit(":", 1)[-1], "#7f1d1d"))
    box, gap = 190, 40
    width = len(nodes) * (box + gap)
    out = [f'<svg width="{width}" height="86" role="img" aria-label="escalation path">']
    out.append(
        '<defs><marker id="arrow" markerWidth="8" markerHeight="8" refX="7" refY="4" orient="auto">'
        '<path d="M0,0 L8,4 L0,8 z" fill="#475569"/></marker></defs>'
    )
    for i, (head, text, color) in enumerate(nodes):
        x = i * (box + gap) + 2
        out.append(
            f'<rect x="{x}" y="10" width="{box}" height="60" rx="8" fill="#fff" '
            f'stroke="{color}" stroke-width="2"/>'
        )
        out.append(
            f'<text x="{x + box / 2}" y="34" text-anchor="middle" font-size="12" font-weight="600" '
            f'fill="{color}">{escape(head)}</text>'
        )
        shown = text if len(text) <= 30 else text[:29] + "\u2026"
        out.append(
            f'<text x="{x + box / 2}" y="54" text-anchor="middle" font-size="11">{escape(shown)}</text>'
        )
        if i + 1 < len(nodes):
            out.append(
                f'<line x1="{x + box}" y1="40" x2="{x + box + gap - 4}" y2="40" stroke="#475569" '
                'stroke-width="2" marker-end="url(#arrow)"/>'
            )
    out.append("</svg>")
    return "".join(out)


def report_fragment(report: Report, *, style: bool = True) -> str:
    """The report's body. ``style=False`` leaves out the ``<style>`` element, for a page whose
    Content-Security-Policy allows only linked style sheets (the console links REVIEW_CSS)."""
    charts = report.charts
    found = report.findings
    failing = [r for r in report.results if r.status == "fail"]
    out = [
        f'<section class="iamd-review"><style>{REVIEW_CSS}</style>'
        if style
        else '<section class="iamd-review">'
    ]
    out.append(f"<h1>Security review of account {escape(report.account_id)}</h1>")
    out.append(
        f'<p class="meta">As of {escape(report.as_of.strftime("%Y-%m-%d %H:%M UTC"))} &middot; '
        f"{escape(report.source)} &middot; {len(report.results)} checks, {len(failing)} failing, "
        f"{len(found)} findings</p>"
    )
    out.append('<h2>Score by practice</h2><div class="cards" id="scores">')
    for practice in PRACTICES:
        out.append(
            f'<div class="card">{_ring(report.score(practice))}'
            f'<div class="name">{escape(practice)}</div></div>'
        )
    out.append("</div>")

    out.append('<h2>Charts</h2><div class="charts">')
    by_severity = charts.get("findings_by_severity", {})
    assert isinstance(by_severity, dict)
    out.append('<figure id="chart-severity" tabindex="0"><figcaption>Findings by severity</figcaption>')
    out.append(
        _bars(
            "Findings by severity",
            list(SEVERITIES),
            [("findings", "#c2410c", [int(by_severity.get(s, 0)) for s in SEVERITIES])],
        )
    )
    out.append("</figure>")
    ages = charts.get("credential_age", {})
    assert isinstance(ages, dict)
    out.append('<figure id="chart-ages" tabindex="0"><figcaption>Credential age</figcaption>')
    out.append(
        _bars(
            "Credential age",
            list(ages.get("buckets", [])),
            [
                ("active access keys", "#2563eb", ages.get("access_keys", [])),
                ("passwords", "#7c3aed", ages.get("passwords", [])),
            ],
        )
    )
    out.append("</figure>")
    coverage = charts.get("mfa_coverage", {})
    assert isinstance(coverage, dict)
    out.append('<figure id="chart-mfa" tabindex="0"><figcaption>MFA coverage of console users</figcaption>')
    colors = ("#15803d", "#b45309", "#b91c1c")
    out.append(
        _stacked([(name, colors[i % 3], int(value)) for i, (name, value) in enumerate(coverage.items())])
    )
    out.append("</figure></div>")

    paths = [f for f in found if f.path]
    out.append(f'<h2>Privilege escalation paths ({len(paths)})</h2><div id="paths">')
    if not paths:
        out.append("<p>No principal can make itself or another an administrator.</p>")
    for item in paths[:50]:
        out.append(
            f'<div class="path" tabindex="0" role="group" '
            f'aria-label="escalation path of {escape(item.resource)}">'
            f"<p><code>{escape(item.resource)}</code></p>{_path_graph(item)}</div>"
        )
    if len(paths) > 50:
        out.append(f"<p>and {len(paths) - 50} more (see the findings below).</p>")
    out.append("</div>")

    out.append(
        '<h2>Checks</h2><div class="scroll" tabindex="0" role="region" aria-label="Checks">'
        '<table id="checks"><tr><th>Check</th><th>Practice</th>'
        "<th>Severity</th><th>Status</th><th>Findings</th></tr>"
    )
    for result in report.results:
        note = f"<br><small>{escape(result.note)}</small>" if result.note else ""
        out.append(
            f"<tr><td><code>{escape(result.check.id)}</code><br>{escape(result.check.title)}{note}</td>"
            f"<td>{escape(result.check.practice)}</td><td>{_sev(result.check.severity)}</td>"
            f'<td class="st-{result.status}">{_STATUS[result.status]}</td>'
            f"<td>{len(result.findings)}</td></tr>"
        )
    out.append("</table></div>")

    out.append('<h2>Findings</h2><div id="findings">')
    for result in failing:
        out.append(f"<h3><code>{escape(result.check.id)}</code> {escape(result.check.title)}</h3>")
        for item in result.findings:
            policy = (
                "<details><summary>Generated policy</summary>"
                f"<pre>{escape(item.suggested_policy)}</pre></details>"
                if item.suggested_policy
                else ""
            )
            out.append(
                f'<div class="finding finding-{escape(item.severity)}">{_sev(item.severity)} '
                f"<code>{escape(item.resource)}</code><div>{escape(item.evidence)}</div>"
                f'<div class="fix"><strong>Fix:</strong> {escape(item.fix)}</div>{policy}</div>'
            )
    out.append("</div></section>")
    return "".join(out)


def render_html(report: Report) -> str:
    title = f"iamd review: account {report.account_id}"
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{escape(title)}</title>'
        f"</head><body>{report_fragment(report)}</body></html>\n"
    )
