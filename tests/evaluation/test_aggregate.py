"""Stance aggregated by group: shares, bootstrap CIs, the net stance index, ISO weeks, outlets."""

import datetime as dt

import numpy as np
import pytest

from stance.evaluation.aggregate import (
    aggregate,
    group_stance,
    iso_week,
    outlet_of,
    overall,
    parse_date,
    resample_counts,
    week_start,
)
from stance.labels import LABELS


def records(labels, **fields):
    return [{"label": label, **fields} for label in labels]


def width(group, label="support"):
    return group.ci[label][1] - group.ci[label][0]


def test_a_group_of_all_support_has_share_one_with_ci_one_to_one():
    rows = records(["support"] * 12, holders=["Minister A"], article=None)
    rows += [{"label": "support", "holders": ["Minister A"], "article": f"a{k % 3}"} for k in range(6)]
    [group] = aggregate(rows, ["holder"], n_resamples=500)["holder"].groups
    assert group.n == 18 and group.counts == {"support": 18, "oppose": 0, "neutral": 0}
    assert group.shares["support"] == 1 and group.ci["support"] == (1.0, 1.0)
    assert group.ci["oppose"] == (0.0, 0.0) and group.net == 1 and group.net_ci == (1.0, 1.0)


def test_shares_counts_and_net_stance_on_known_data():
    group = group_stance("holder", "x", np.array([[6, 3, 1]]), n_resamples=1000)
    assert group.n == 10 and group.shares == pytest.approx({"support": 0.6, "oppose": 0.3, "neutral": 0.1})
    assert group.net == pytest.approx(0.3)
    for label in LABELS:
        low, high = group.ci[label]
        assert 0 <= low <= group.shares[label] <= high <= 1
    assert group.net_ci[0] < group.net < group.net_ci[1]
    row = group.row()
    assert row["holder"] == "x" and row["n_support"] == 6 and row["share_oppose"] == 0.3 and row["net"] == 0.3


def test_cis_widen_with_fewer_statements():
    small = group_stance("week", "w", np.array([[4, 4, 2]]), n_resamples=2000)
    large = group_stance("week", "w", np.array([[200, 200, 100]]), n_resamples=2000)
    assert small.shares == large.shares
    for label in LABELS:
        assert width(small, label) > 3 * width(large, label)
    assert small.net_ci[1] - small.net_ci[0] > 3 * (large.net_ci[1] - large.net_ci[0])


def test_correlated_articles_widen_the_interval_and_one_article_resamples_statements():
    # five all-support and five all-oppose articles of ten statements: the article is what varies
    rows = [{"label": label, "outlet": "example.org", "article": f"{label}-{k}"}
            for label in ("support", "oppose") for k in range(5) for _ in range(10)]
    by_article = aggregate(rows, ["outlet"], n_resamples=2000)["outlet"]
    by_statement = aggregate([{**r, "article": None} for r in rows], ["outlet"], n_resamples=2000)["outlet"]
    assert by_article.resampled == "articles, then statements" and by_statement.resampled == "statements"
    assert by_article.groups[0].articles == 10 and by_statement.groups[0].articles == 0
    assert width(by_article.groups[0]) > 2 * width(by_statement.groups[0])
    # a group from one article falls back to its statements (no zero-width interval)
    one = aggregate(records(["support", "oppose"] * 5, outlet="x.org", article="only"), ["outlet"])["outlet"]
    assert width(one.groups[0]) > 0.3


def test_two_stage_resamples_keep_each_articles_size_on_average():
    rng = np.random.default_rng(0)
    draws = resample_counts(np.array([[3, 0, 0], [0, 1, 0]]), 20000, rng)
    assert draws.shape == (20000, 3) and (draws[:, 2] == 0).all()
    assert draws.sum(axis=1).mean() == pytest.approx(4, abs=0.05)  # 2 draws of articles of 3 and 1


def test_weeks_across_a_year_boundary():
    assert iso_week(dt.date(2024, 12, 29)) == "2024-W52"
    assert iso_week(dt.date(2024, 12, 30)) == "2025-W01"  # a Monday: week 1 of 2025 has 2 January's Thursday
    assert iso_week(dt.date(2025, 1, 5)) == "2025-W01"
    assert iso_week(dt.date(2021, 1, 3)) == "2020-W53"
    assert week_start("2025-W01") == dt.date(2024, 12, 30) and week_start("2020-W53") == dt.date(2020, 12, 28)
    dates = ["2024-12-29", "2024-12-30", "2025-01-01", "2025-01-05", "2025-01-06"]
    rows = [{"label": "support", "date": parse_date(d)} for d in dates] + [{"label": "oppose", "date": None}]
    view = aggregate(rows, ["week"], n_resamples=200)["week"]
    assert [(g.group, g.n) for g in view.groups] == [("2024-W52", 1), ("2025-W01", 3), ("2025-W02", 1)]
    assert view.without == 1


def test_seeded_reproducibility_and_groups_independent_of_each_other():
    rows = [{"label": LABELS[k % 3], "holders": [f"h{k % 4}"], "article": f"a{k % 7}"} for k in range(80)]
    first = aggregate(rows, ["holder"], seed=3)["holder"].groups
    again = aggregate(rows, ["holder"], seed=3)["holder"].groups
    other = aggregate(rows, ["holder"], seed=4)["holder"].groups
    assert first == again
    assert [g.ci for g in first] != [g.ci for g in other]
    # a holder's interval does not move when another holder's statements are added
    more = aggregate(rows + records(["oppose"] * 9, holders=["new"], article="z"), ["holder"], seed=3)["holder"]
    assert {g.group: g.ci for g in first}.items() <= {g.group: g.ci for g in more.groups}.items()


def test_min_n_holders_outlets_and_order():
    rows = (records(["support"] * 5, holders=["A", "B"], outlet="lemonde.fr")
            + records(["oppose"] * 4, holders=["C"], outlet="tass.com")
            + records(["neutral"], holders=["Rare"], outlet="tass.com") + records(["neutral"], holders=[]))
    views = aggregate(rows, ["holder", "outlet"], min_n=2, n_resamples=200)
    holders = views["holder"]
    assert [g.group for g in holders.groups] == ["A", "B", "C"]  # most supportive first
    assert (holders.omitted_groups, holders.omitted_statements, holders.without) == (1, 1, 1)
    assert [(g.group, g.n) for g in views["outlet"].groups] == [("lemonde.fr", 5), ("tass.com", 5)]
    assert overall(rows, n_resamples=200).n == len(rows)


@pytest.mark.parametrize("url, host", [
    ("https://www.Reuters.com/world/x", "reuters.com"), ("http://apnews.com/a?b=1", "apnews.com"),
    ("bbc.co.uk/news/1", "bbc.co.uk"), ("  ", None), ("https://www2.example.org:8080/", "www2.example.org"),
])
def test_outlet_is_the_host_without_www(url, host):
    assert outlet_of(url) == host


@pytest.mark.parametrize("value", ["2025-13-01", "1/2/2025", "2025-01", "yesterday"])
def test_unparsable_dates(value):
    with pytest.raises(ValueError):
        parse_date(value)
    assert parse_date("2025-03-04T10:00:00Z") == dt.date(2025, 3, 4)
