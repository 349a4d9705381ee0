"""Statistics pages: the overview (every newsletter for an admin, your own for a publisher), a newsletter's
readers over time, an issue's send; each table also as CSV, each chart drawn as SVG with its table beside it.
"""

from flask import Response, render_template, request
from flask_babel import format_date
from flask_login import current_user

from ... import newsletters, publishing
from ...extensions import db
from ...stats import bounces as bounce_stats
from ...stats import charts
from ...stats import issues as issue_stats
from ...stats import newsletters as newsletter_stats
from ...stats.periods import period_asked
from ...stats.records import (ISSUE_COLUMNS, SUMMARY_COLUMNS, bucket_record, csv_lines, issue_record,
                              reason_records, summary_record)
from ..converters import page_cursor
from . import admin

CSV_PAGE = 200
PERIODS = (("day", 30), ("day", 90), ("week", 365), ("week", 731))
ISSUE_PARTS = ("sent", "bounced", "failed", "unknown", "skipped", "held", "sending", "queued")


@admin.get("/stats")
def stats_overview():
    visible = newsletters.visible_to(current_user)
    chosen = _period()
    page = issue_stats.started_issues([item.id for item in visible], page_cursor("before"), size=20)
    figures = issue_stats.figures_of(page.issues)
    summaries = newsletter_stats.summaries(visible, chosen)
    db.session.commit()  # issues settled and days counted on the way
    return render_template("admin/stats.html", period=chosen, periods=PERIODS, figures=figures,
                           summaries=summaries, next_before=page.next_before)


@admin.get("/stats/newsletters.csv")
def stats_overview_csv():
    summaries = newsletter_stats.summaries(newsletters.visible_to(current_user), _period())
    db.session.commit()
    return _csv("newsletters", (summary_record(summary) for summary in summaries), SUMMARY_COLUMNS)


@admin.get("/stats/issues.csv")
def stats_issues_csv():
    ids = [item.id for item in newsletters.visible_to(current_user)]
    return _csv("issues", _issue_records(ids), ISSUE_COLUMNS)


@admin.get("/n/<slug>/stats")
def newsletter_stats_page(slug: str):
    item = publishing.newsletter_of(current_user, slug)
    figures = newsletter_stats.newsletter_figures(item, _period())
    page = issue_stats.started_issues([item.id], page_cursor("before"))
    issues = issue_stats.figures_of(page.issues)
    db.session.commit()
    return render_template("admin/stats_newsletter.html", newsletter=item, figures=figures, issues=issues,
                           next_before=page.next_before, periods=PERIODS, **_timeline_charts(figures))


@admin.get("/n/<slug>/stats/<any(timeline, reasons, issues):table>.csv")
def newsletter_stats_csv(slug: str, table: str):
    item = publishing.newsletter_of(current_user, slug)
    if table == "issues":
        return _csv(f"{item.slug}-issues", _issue_records([item.id]), ISSUE_COLUMNS)
    figures = newsletter_stats.newsletter_figures(item, _period())
    db.session.commit()
    if table == "timeline":
        return _csv(f"{item.slug}-timeline", (bucket_record(bucket) for bucket in figures.timeline))
    return _csv(f"{item.slug}-unsubscribe-reasons", reason_records(figures.reasons))


@admin.get("/issues/<int:issue_id>/stats")
def issue_stats_page(issue_id: int):
    issue = publishing.issue_of(current_user, issue_id)
    figures = issue_stats.figures_of_issue(issue)
    reasons = issue_stats.unsubscribe_reasons(issue)
    refusals = bounce_stats.refusals_of_issue(issue.id)
    db.session.commit()
    parts = charts.stacked_bar([(key, figures.counts[key]) for key in ISSUE_PARTS])
    return render_template("admin/stats_issue.html", issue=issue, newsletter=issue.newsletter, figures=figures,
                           reasons=reasons, refusals=refusals, parts=parts, bar_width=charts.BAR_WIDTH,
                           bar_height=charts.BAR_HEIGHT)


@admin.get("/issues/<int:issue_id>/stats.csv")
def issue_stats_csv(issue_id: int):
    issue = publishing.issue_of(current_user, issue_id)
    record = issue_record(issue_stats.figures_of_issue(issue))
    db.session.commit()
    rows = [{"figure": key, "value": value} for key, value in record.items()]
    rows += [{"figure": f"unsubscribe_reason_{code}", "value": count}
             for code, count in issue_stats.unsubscribe_reasons(issue).items()]
    return _csv(f"issue-{issue.id}", rows)


def _timeline_charts(figures) -> dict:
    """The two charts of a newsletter page: confirmed readers (a line) and unsubscribes (bars)."""
    timeline = figures.timeline
    labels = [format_date(bucket.start, "d MMM yy") for bucket in timeline]
    return {
        "readers_chart": charts.time_chart([bucket.confirmed for bucket in timeline], labels),
        "leaving_chart": charts.time_chart([bucket.unsubscribes for bucket in timeline], labels, kind="bar"),
    }


def _issue_records(newsletter_ids: list[int]):
    """Every started issue's record, walked by keyset in pages (a CSV may cover many issues)."""
    before = None
    while True:
        page = issue_stats.started_issues(newsletter_ids, before, size=CSV_PAGE)
        yield from (issue_record(figures) for figures in issue_stats.figures_of(page.issues))
        db.session.commit()
        if page.next_before is None:
            return
        before = page.next_before


def _csv(name: str, records, columns: list[str] | None = None) -> Response:
    # Built whole, not streamed: even every issue of an instance is a small file, and the walk commits as it goes.
    return Response("".join(csv_lines(records, columns)), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"', "Cache-Control": "no-store"})


def _period():
    return period_asked(request.args, fallback=True)


