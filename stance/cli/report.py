"""``stance report``: stance aggregated over predictions, by holder, outlet, article and week.

Thin: it parses, calls :func:`stance.serving.report_files.build_report` (and, with ``--log``,
:func:`stance.tracking.reports.log_report`) and prints.
"""

from __future__ import annotations

import click

from stance.cli.options import tracking_uri_option, user_errors
from stance.errors import StanceError


def _views(value: str | None) -> list[str] | None:
    if value is None:
        return None
    views = [v.strip() for v in value.split(",") if v.strip()]
    if not views:
        raise StanceError("--by needs one or more of holder, outlet, article, week (comma-separated)")
    return views


@click.command("report")
@click.argument("predictions", nargs=-1, required=True)
@click.option("--by", default=None, help="Groupings, comma-separated, from holder,outlet,article,week. "
              "[default: all that the columns allow]")
@click.option("--min-n", type=click.IntRange(min=1), default=1, show_default=True,
              help="Leave out groups with fewer statements (the report counts them).")
@click.option("--out", default="report", show_default=True, help="Folder to write the report in.")
@click.option("--html", "with_html", is_flag=True, help="Also write report.html (self-contained, figures embedded).")
@click.option("--resamples", type=click.IntRange(min=100), default=2000, show_default=True,
              help="Bootstrap resamples per group.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the bootstrap.")
@click.option("--log", "log", is_flag=True, help="Log the report's files and headline numbers to an MLflow run.")
@click.option("--experiment", default="report", show_default=True, help="MLflow experiment for --log.")
@tracking_uri_option
@user_errors
def report_command(predictions, by, min_n, out, with_html, resamples, seed, log, experiment, tracking_uri) -> None:
    """Stance by holder, outlet, article and ISO week, with bootstrap 95% CIs, from PREDICTIONS
    (the .csv or .jsonl files stance predict -o writes; several are read as one).

    Writes report.md, by_<view>.csv, stance_over_time.png (by week) and holders.png (holders on a
    support/oppose axis) in --out.
    """
    from stance.serving.report_files import build_report
    from stance.tracking.store import (
        default_tracking_uri,
        read_only_problem,
        sqlite_problem,
    )

    uri = tracking_uri or default_tracking_uri()
    if log and (problem := sqlite_problem(uri) or read_only_problem(uri)):
        raise StanceError(problem)
    report = build_report(predictions, out, by=_views(by), min_n=min_n, html=with_html, n_resamples=resamples,
                          seed=seed)
    shown = ", ".join(f"{len(view.groups)} {name}{'s' if len(view.groups) != 1 else ''}"
                      for name, view in report.views.items())
    click.echo(f"{report.overall.n} statements from {len(report.predictions.files)} file(s): {shown}; "
               f"net stance {report.overall.net:+.2f} [{report.overall.net_ci[0]:+.2f}, {report.overall.net_ci[1]:+.2f}]")
    click.echo(f"wrote {', '.join(str(path) for path in report.files)}")
    if log:
        from stance.tracking.reports import log_report

        params = {"inputs": ", ".join(report.predictions.files), "views": ",".join(report.views), "min_n": min_n,
                  "n_resamples": resamples, "seed": seed}
        run_id = log_report(uri, report.files, params, report.metrics, experiment=experiment)
        click.echo(f"logged to MLflow run {run_id} (experiment '{experiment}', {uri})")
