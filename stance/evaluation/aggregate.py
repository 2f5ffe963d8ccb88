"""Stance aggregated over many predictions: by holder, article, outlet and ISO week, with seeded
bootstrap confidence intervals. Pure functions (no I/O): :mod:`stance.serving.report_files`
reads the predictions and writes the report.

Each group gets its counts, the share of each label, a percentile bootstrap 95% CI of every share,
and a *net stance index* ``(support - oppose) / n`` (from -1, all oppose, to +1, all support) with
its CI from the same resamples.

How a group is resampled. Statements of one article are not independent (one author, one
event, often one speaker quoted several times), so wherever the articles are known the bootstrap
is two-stage (Davison & Hinkley 1997, sec. 3.8): draw the group's articles with replacement, then
each drawn article's statements with replacement. With many articles this is close to the plain
cluster bootstrap and a little wider (conservative); a group from one article falls back to
resampling its statements, instead of the zero-width interval a cluster-only bootstrap would
give. The article view itself (one article per group) resamples statements, as does every view
when no article is known (each statement is then its own cluster). Each group draws from its own
seeded stream (the seed, the view and the group's name), so a group's interval does not change
when other groups are added or removed.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import numpy as np

from stance.labels import LABELS

#: The views a report can have, in the order it shows them.
VIEWS = ("holder", "outlet", "article", "week")

#: Resamples per group unless told otherwise.
N_RESAMPLES = 2000

_BLOCK = 4_000_000  # resample x article cells drawn at once, so big groups stay within memory


@dataclass(frozen=True)
class GroupStance:
    """One group's stance: counts, shares with CIs and the net stance index with its CI."""

    view: str
    group: str
    n: int  #: statements in the group
    articles: int  #: distinct articles among them (0 when no article is known)
    counts: dict[str, int]
    shares: dict[str, float]
    ci: dict[str, tuple[float, float]]  #: label -> (low, high)
    net: float  #: (support - oppose) / n
    net_ci: tuple[float, float]

    def row(self) -> dict:
        """A flat dict (CSV row): group, n, articles, then per label count, share, CI, then net."""
        out = {self.view: self.group, "n": self.n, "articles": self.articles}
        for label in self.counts:
            out[f"n_{label}"] = self.counts[label]
        for label in self.shares:
            out[f"share_{label}"] = round(self.shares[label], 4)
            out[f"share_{label}_low"] = round(self.ci[label][0], 4)
            out[f"share_{label}_high"] = round(self.ci[label][1], 4)
        out.update(net=round(self.net, 4), net_low=round(self.net_ci[0], 4), net_high=round(self.net_ci[1], 4))
        return out


@dataclass
class View:
    """The groups of one view, and what was left out of it."""

    name: str
    groups: list[GroupStance] = field(default_factory=list)
    omitted_groups: int = 0  #: groups under ``min_n`` statements
    omitted_statements: int = 0  #: statements in those groups
    without: int = 0  #: statements with no value for this view (no date, no holder, ...)
    resampled: str = "statements"  #: "articles, then statements" where articles are known


# ----------------------------------------------------------------------------- keys
def parse_date(value: str) -> dt.date:
    """A date from ``YYYY-MM-DD`` (a longer ISO timestamp is cut to its date).

    Raises
    ------
    ValueError
        Anything else.
    """
    text = value.strip()
    if len(text) > 10 and text[10] in "T ":
        text = text[:10]
    if len(text) != 10:
        raise ValueError(value)
    return dt.date.fromisoformat(text)


def iso_week(day: dt.date) -> str:
    """The ISO 8601 week of a date, ``YYYY-Www`` (2024-12-30 is in ``2025-W01``)."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def week_start(week: str) -> dt.date:
    """The Monday that starts an ISO week ``YYYY-Www``."""
    year, number = week.split("-W")
    return dt.date.fromisocalendar(int(year), int(number), 1)


def outlet_of(url: str) -> str | None:
    """The host of a URL, lower case, without a leading ``www.`` (None for no host)."""
    text = url.strip()
    if not text:
        return None
    host = urlsplit(text if "//" in text else f"//{text}").hostname
    if not host:
        return None
    return host.removeprefix("www.")


# ----------------------------------------------------------------------------- the bootstrap
def _stream(seed: int, *names: str) -> np.random.Generator:
    return np.random.default_rng([seed, *(zlib.crc32(name.encode("utf-8")) for name in names)])


def resample_counts(clusters: np.ndarray, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Label counts of ``n_resamples`` bootstrap resamples of a group.

    Parameters
    ----------
    clusters : ndarray of shape (k, n_labels)
        Label counts of each cluster (article) of the group; one row: statements are resampled.
    n_resamples : int
        Resamples to draw.
    rng : numpy.random.Generator
        The group's random stream.

    Returns
    -------
    ndarray of shape (n_resamples, n_labels)
        Counts of each resample: clusters drawn with replacement, then each drawn cluster's
        statements with replacement (two-stage); one cluster: a multinomial draw of its statements.
    """
    clusters = np.asarray(clusters, dtype=np.int64)
    sizes = clusters.sum(axis=1)
    if len(clusters) == 1:
        return rng.multinomial(int(sizes[0]), clusters[0] / sizes[0], size=n_resamples)
    k = len(clusters)
    p = clusters / sizes[:, None]
    out = np.empty((n_resamples, clusters.shape[1]), dtype=np.int64)
    block = max(1, _BLOCK // k)
    for start in range(0, n_resamples, block):
        b = min(block, n_resamples - start)
        drawn = rng.multinomial(k, np.full(k, 1 / k), size=b)  # times each cluster is drawn
        out[start : start + b] = rng.multinomial(drawn * sizes[None, :], p[None, :, :]).sum(axis=1)
    return out


def group_stance(view: str, group: str, clusters: np.ndarray, labels: Sequence[str] = LABELS,
                 n_resamples: int = N_RESAMPLES, seed: int = 0, confidence: float = 0.95,
                 articles: int = 0) -> GroupStance:
    """Counts, shares, net stance and their bootstrap CIs for one group.

    Parameters
    ----------
    view, group : str
        What the group is (they also name its random stream, with ``seed``).
    clusters : ndarray of shape (k, n_labels)
        Label counts per cluster (:func:`resample_counts`).
    labels : sequence of str, default=LABELS
        The label of each column; net stance needs "support" and "oppose" among them.
    n_resamples : int, default=2000
    seed : int, default=0
    confidence : float, default=0.95
    articles : int, default=0
        Distinct articles in the group, as reported.

    Returns
    -------
    GroupStance
    """
    clusters = np.atleast_2d(np.asarray(clusters, dtype=np.int64))
    counts = clusters.sum(axis=0)
    n = int(counts.sum())
    draws = resample_counts(clusters, n_resamples, _stream(seed, view, group))
    shares = draws / draws.sum(axis=1, keepdims=True)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(shares, [tail, 100 - tail], axis=0)
    support, oppose = list(labels).index("support"), list(labels).index("oppose")
    net_draws = shares[:, support] - shares[:, oppose]
    net_low, net_high = np.percentile(net_draws, [tail, 100 - tail])
    return GroupStance(
        view=view, group=group, n=n, articles=articles,
        counts={label: int(c) for label, c in zip(labels, counts)},
        shares={label: float(c / n) for label, c in zip(labels, counts)},
        ci={label: (float(lo), float(hi)) for label, lo, hi in zip(labels, low, high)},
        net=float((counts[support] - counts[oppose]) / n), net_ci=(float(net_low), float(net_high)))


# ----------------------------------------------------------------------------- views
def _keys(record: Mapping, view: str) -> list[str]:
    """The groups a statement belongs to in a view (several holders: one group each)."""
    if view == "holder":
        return [h for h in record.get("holders") or () if h]
    if view == "week":
        return [iso_week(record["date"])] if record.get("date") else []
    value = record.get(view)
    return [value] if value else []


def aggregate(records: Iterable[Mapping], views: Sequence[str] = VIEWS, min_n: int = 1,
              n_resamples: int = N_RESAMPLES, seed: int = 0, confidence: float = 0.95,
              labels: Sequence[str] = LABELS) -> dict[str, View]:
    """Stance by group for each view.

    Parameters
    ----------
    records : iterable of mapping
        One per statement: ``label`` and, where known, ``holders`` (list of str), ``article``,
        ``outlet`` (str) and ``date`` (:class:`datetime.date`).
    views : sequence of {"holder", "outlet", "article", "week"}, default=VIEWS
    min_n : int, default=1
        Groups with fewer statements are left out (counted in the view's ``omitted_*``).
    n_resamples, seed, confidence
        The bootstrap (see the module's docstring for what is resampled).
    labels : sequence of str, default=LABELS

    Returns
    -------
    dict of str to View
        Per view, its groups: weeks in time order, holders by net stance (most supportive
        first), outlets and articles by number of statements.
    """
    records = list(records)
    index = {label: k for k, label in enumerate(labels)}
    known_articles = any(r.get("article") for r in records)
    out = {}
    for view in views:
        members: dict[str, list[Mapping]] = {}
        result = View(view, resampled="articles, then statements"
                      if known_articles and view != "article" else "statements")
        for record in records:
            keys = _keys(record, view)
            if not keys:
                result.without += 1
            for key in keys:
                members.setdefault(key, []).append(record)
        for group, rows in members.items():
            if len(rows) < min_n:
                result.omitted_groups += 1
                result.omitted_statements += len(rows)
                continue
            result.groups.append(_group(view, group, rows, index, n_resamples, seed, confidence, labels))
        result.groups.sort(key=_order(view))
        out[view] = result
    return out


def overall(records: Iterable[Mapping], n_resamples: int = N_RESAMPLES, seed: int = 0, confidence: float = 0.95,
            labels: Sequence[str] = LABELS) -> GroupStance:
    """Every statement as one group (resampled by article where articles are known)."""
    records = list(records)
    index = {label: k for k, label in enumerate(labels)}
    return _group("all", "all statements", records, index, n_resamples, seed, confidence, labels)


def _group(view, group, rows, index, n_resamples, seed, confidence, labels) -> GroupStance:
    clusters: dict[object, np.ndarray] = {}
    for k, row in enumerate(rows):
        if view == "article":
            key = "one"  # the group is one article: its statements are resampled
        else:
            key = row.get("article") or ("statement", k)  # no article: the statement is its own cluster
        counts = clusters.setdefault(key, np.zeros(len(labels), dtype=np.int64))
        counts[index[row["label"]]] += 1
    matrix = np.stack(list(clusters.values()))
    if view != "article" and not any(isinstance(key, str) for key in clusters):
        matrix = matrix.sum(axis=0, keepdims=True)  # singletons only: the plain statement bootstrap
    articles = len({row["article"] for row in rows if row.get("article")})
    return group_stance(view, group, matrix, labels, n_resamples, seed, confidence, articles)


def _order(view: str):
    if view == "week":
        return lambda g: g.group
    if view == "holder":
        return lambda g: (-g.net, -g.n, g.group)
    return lambda g: (-g.n, g.group)
