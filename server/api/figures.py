"""Figures for the dashboard, and the self-help events that feed them (a problem solved without a ticket)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import HTTPException, Query

from server import models
from server.api.dependencies import AnyCaller, Context, Technician, api_router, epoch, error_responses
from server.api.views import at
from server.store import Summary

router = api_router()


@router.post(
    "/self-help",
    tags=["reports"],
    summary="Record that a self-help article solved a problem (no ticket made)",
    status_code=201,
    responses=error_responses(422),
)
def record_self_help(body: models.SelfHelpEvent, context: Context, caller: AnyCaller) -> models.SelfHelpRecorded:
    site = body.site if body.site is not None else caller.site
    recorded = context.store.record_self_help(site, body.category, body.article, caller.name)
    return models.SelfHelpRecorded(id=recorded)


@router.get(
    "/stats",
    tags=["figures"],
    summary="Dashboard figures: response and resolution times, categories, walk-up wait, self-help",
    responses=error_responses(403),
)
def stats(
    context: Context,
    _caller: Technician,
    since: Annotated[datetime | None, Query(description="default: 30 days before `until`")] = None,
    until: Annotated[datetime | None, Query(description="default: now")] = None,
) -> models.Figures:
    end = epoch(until) if until is not None else time.time()
    start = epoch(since) if since is not None else end - timedelta(days=30).total_seconds()
    if start >= end:
        raise HTTPException(422, "since must be before until")
    figures = context.store.stats(start, end)
    return models.Figures(
        since=at(start),
        until=at(end),
        tickets_created=figures.tickets_created,
        open_tickets=figures.open_tickets,
        time_to_first_response=_duration(figures.first_response),
        time_to_resolution=_duration(figures.resolution),
        walk_up_wait=_duration(figures.walk_up_wait),
        by_category=[models.CategoryCount(category=c, count=n) for c, n in figures.by_category],
        self_help=models.SelfHelpFigures(
            solved_by_article=figures.solved_by_article,
            reports_after_articles=figures.reports_after_articles,
            share_solved=figures.share_solved_by_self_help,
            top_articles=[models.ArticleCount(article=a, count=n) for a, n in figures.top_articles],
        ),
        recurring_machines=[models.MachineCount(source_id=s, tickets=n) for s, n in figures.recurring_machines],
    )


@router.get(
    "/stats/satisfaction",
    tags=["figures"],
    summary="Satisfaction: share of resolved tickets rated, the mean rating, its spread and weekly trend",
    responses=error_responses(403),
)
def satisfaction(
    context: Context,
    _caller: Technician,
    since: Annotated[datetime | None, Query(description="default: 30 days before `until`")] = None,
    until: Annotated[datetime | None, Query(description="default: now")] = None,
) -> models.Satisfaction:
    end = epoch(until) if until is not None else time.time()
    start = epoch(since) if since is not None else end - timedelta(days=30).total_seconds()
    if start >= end:
        raise HTTPException(422, "since must be before until")
    figures = context.store.satisfaction(start, end)
    return models.Satisfaction(
        since=at(start),
        until=at(end),
        resolved=figures.resolved,
        rated=figures.rated,
        share_rated=min(1.0, figures.share_rated) if figures.share_rated is not None else None,
        average=figures.average,
        distribution=[models.RatingCount(score=s, count=n) for s, n in sorted(figures.distribution.items())],
        solved=figures.solved,
        still_broken=figures.still_broken,
        trend=[models.WeeklyRating(week=at(w), average=a, count=n) for w, a, n in figures.weekly],
    )


def _duration(summary: Summary) -> models.DurationSummary:
    return models.DurationSummary(
        count=summary.count, mean_seconds=summary.mean_seconds, median_seconds=summary.median_seconds
    )
