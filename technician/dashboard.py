"""The figures the help desk is judged by, for a chosen period: tiles for the times, charts for the rest."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Final

from PySide6.QtCharts import (
    QBarCategoryAxis,
    QBarSet,
    QChart,
    QChartView,
    QDateTimeAxis,
    QHorizontalBarSeries,
    QLineSeries,
    QPieSeries,
    QValueAxis,
)
from PySide6.QtCore import QDateTime, QMargins, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from agent.read_models import Satisfaction
from agent.schema import DurationSummary, Figures
from technician.client import DeskFigures
from technician.model import format_seconds

PERIODS: Final[tuple[tuple[str, timedelta], ...]] = (
    ("Last 24 hours", timedelta(days=1)),
    ("Last 7 days", timedelta(days=7)),
    ("Last 30 days", timedelta(days=30)),
    ("Last 90 days", timedelta(days=90)),
    ("Last 365 days", timedelta(days=365)),
)
DEFAULT_PERIOD: Final = 2
MAX_BARS: Final = 10
ACCENT: Final = "#1e88e5"
SECOND: Final = "#43a047"
THIRD: Final = "#fb8c00"
# Figures on screen follow the help desk by themselves: a change on the feed asks again once
# things settle (a burst of changes is one request), and a timer catches what the feed does
# not carry (self-help counts, the period's sliding end, backends without a feed).
FIGURES_SETTLE_MS: Final = 1500
FIGURES_REFRESH_MS: Final = 60_000
MOST_COUNT_TICKS: Final = 6


class Tile(QFrame):
    """One figure: a big number with its label and a line of detail."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("FigureTile")
        self.setStyleSheet(
            "#FigureTile { background: palette(base); border: 1px solid palette(mid); border-radius: 8px; }"
        )
        self.title = QLabel(title)
        self.title.setStyleSheet("color: palette(dark);")
        self.value = QLabel("–")
        font = QFont()
        font.setPointSize(20)
        font.setBold(True)
        self.value.setFont(font)
        self.detail = QLabel()
        self.detail.setStyleSheet("color: palette(dark);")
        self.detail.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 10, 14, 10)
        layout.addWidget(self.title)
        layout.addWidget(self.value)
        layout.addWidget(self.detail)

    def show_figure(self, value: str, detail: str = "") -> None:
        self.value.setText(value)
        self.detail.setText(detail)


class Dashboard(QWidget):
    """Asks for the figures of the chosen period (``period_changed``) and shows what arrives."""

    period_changed = Signal(object, object)  # since, until (aware datetimes)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Dashboard")
        self.stats: Figures | None = None
        self.period = QComboBox()
        self.period.setObjectName("DashboardPeriod")
        for label, _span in PERIODS:
            self.period.addItem(label)
        self.period.setCurrentIndex(DEFAULT_PERIOD)
        self.period.currentIndexChanged.connect(lambda _i: self.refresh())
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        self.state = QLabel()
        self.state.setObjectName("DashboardState")
        self.state.setStyleSheet("color: palette(dark);")
        top = QHBoxLayout()
        heading = QLabel("Help desk figures")
        heading.setStyleSheet("font-size: 15pt; font-weight: bold;")
        top.addWidget(heading)
        top.addStretch(1)
        top.addWidget(self.state)
        top.addWidget(self.period)
        top.addWidget(self.refresh_button)

        self.tiles = {
            "created": Tile("Tickets created"),
            "first_response": Tile("Time to first response"),
            "resolution": Tile("Time to resolution"),
            "walk_up": Tile("Walk-up wait"),
            "self_help": Tile("Solved by self-help articles"),
            "open": Tile("Open now"),
            "satisfaction": Tile(self.tr("Satisfaction")),
        }
        tiles = QHBoxLayout()
        for tile in self.tiles.values():
            tiles.addWidget(tile, 1)

        self.category_chart = _chart_view("Tickets by category")
        self.times_chart = _chart_view("Response, resolution and walk-up wait")
        self.self_help_chart = _chart_view("Self-help")
        self.machines_chart = _chart_view("Machines with recurring tickets")
        # Shown only where the backend can say how people rated it (the built-in server can).
        self.ratings_chart = _chart_view(self.tr("Ratings"))
        self.rating_trend_chart = _chart_view(self.tr("Rating by week"))
        self.satisfaction: Satisfaction | None = None
        grid = QGridLayout()
        grid.addWidget(self.category_chart, 0, 0)
        grid.addWidget(self.times_chart, 0, 1)
        grid.addWidget(self.ratings_chart, 0, 2)
        grid.addWidget(self.machines_chart, 1, 0)
        grid.addWidget(self.self_help_chart, 1, 1)
        grid.addWidget(self.rating_trend_chart, 1, 2)
        grid.setRowStretch(0, 1)
        grid.setRowStretch(1, 1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.addLayout(top)
        layout.addLayout(tiles)
        layout.addLayout(grid, 1)

        self._stale = False
        self.settle_timer = QTimer(self)
        self.settle_timer.setSingleShot(True)
        self.settle_timer.setInterval(FIGURES_SETTLE_MS)
        self.settle_timer.timeout.connect(self._refresh_if_shown)
        self.refresh_timer = QTimer(self)
        self.refresh_timer.setInterval(FIGURES_REFRESH_MS)
        self.refresh_timer.timeout.connect(self._refresh_if_shown)
        self.refresh_timer.start()
        self._show_satisfaction(None)  # until the backend says it has ratings

    def note_change(self) -> None:
        """Something changed at the help desk: ask again soon if the figures are on screen, else when shown."""
        if self.stats is None:
            return  # never asked for: the first showing asks
        self._stale = True
        self.settle_timer.start()

    def _refresh_if_shown(self) -> None:
        if self.stats is not None and self.isVisible():
            self.refresh()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if self._stale:
            self._refresh_if_shown()

    def window_for(self, now: datetime | None = None) -> tuple[datetime, datetime]:
        until = now or datetime.now(UTC)
        return until - PERIODS[self.period.currentIndex()][1], until

    def refresh(self) -> None:
        self._stale = False
        since, until = self.window_for()
        self.state.setText("Loading…")
        self.period_changed.emit(since, until)

    def show_failed(self, reason: str) -> None:
        self.state.setText(f"Figures could not be loaded: {reason}")

    def show_stats(self, loaded: DeskFigures | Figures) -> None:
        """Show the figures; satisfaction where the backend gave it, hidden where it cannot."""
        stats = loaded.figures if isinstance(loaded, DeskFigures) else loaded
        satisfaction = loaded.satisfaction if isinstance(loaded, DeskFigures) else None
        self.stats = stats
        self.satisfaction = satisfaction
        self._show_satisfaction(satisfaction)
        local = stats.until.astimezone().strftime("%Y-%m-%d %H:%M")
        self.state.setText(f"As of {local}")
        self.tiles["created"].show_figure(f"{stats.tickets_created:,}", PERIODS[self.period.currentIndex()][0].lower())
        self.tiles["first_response"].show_figure(*_duration_text(stats.time_to_first_response))
        self.tiles["resolution"].show_figure(*_duration_text(stats.time_to_resolution))
        self.tiles["walk_up"].show_figure(*_duration_text(stats.walk_up_wait, unit="visit"))
        self_help = stats.self_help
        share = self_help.share_solved
        self.tiles["self_help"].show_figure(
            "–" if share is None else f"{share:.0%}",
            f"{self_help.solved_by_article:,} solved by an article, "
            f"{self_help.reports_after_articles:,} reported anyway",
        )
        self.tiles["open"].show_figure(f"{stats.open_tickets:,}", "new, open or waiting")
        self._category_chart([(c.category, c.count) for c in stats.by_category])
        self._times_chart(stats)
        self._self_help_chart(stats)
        # The server leaves kiosks out: a kiosk files many people's reports, it is not their machine.
        self._machines_chart([(m.source_id, m.tickets) for m in stats.recurring_machines])

    def _show_satisfaction(self, figures: Satisfaction | None) -> None:
        shown = figures is not None
        for widget in (self.tiles["satisfaction"], self.ratings_chart, self.rating_trend_chart):
            widget.setVisible(shown)
        if figures is None:
            return
        share = "–" if figures.share_rated is None else f"{figures.share_rated:.0%}"
        self.tiles["satisfaction"].show_figure(
            "–" if figures.average is None else self.tr("{} of 5").format(f"{figures.average:.1f}"),
            self.tr("{} of {} resolved tickets rated ({}); {} solved, {} still broken").format(
                f"{figures.rated:,}", f"{figures.resolved:,}", share, f"{figures.solved:,}", f"{figures.still_broken:,}"
            ),
        )
        counts = {entry.score: entry.count for entry in figures.distribution}
        _horizontal_bars(
            self.ratings_chart,
            self.tr("Ratings"),
            [(self.tr("{} of 5").format(score), counts.get(score, 0)) for score in range(5, 0, -1)]
            if figures.rated
            else [],
            SECOND,
            self.tr("ratings"),
            empty=self.tr("Nobody rated a ticket in this period"),
        )
        self._trend_chart(figures)

    def _trend_chart(self, figures: Satisfaction) -> None:
        chart = _new_chart(self.tr("Rating by week"))
        if not figures.trend:
            chart.setTitle(self.tr("Rating by week — no ratings in this period"))
            self.rating_trend_chart.setChart(chart)
            return
        series = QLineSeries()
        series.setPointsVisible(True)
        series.setColor(QColor(SECOND))
        for week in figures.trend:
            series.append(week.week.timestamp() * 1000.0, week.average)
        chart.addSeries(series)
        axis_x = QDateTimeAxis()
        axis_x.setFormat("dd MMM")
        first, last = figures.trend[0].week, figures.trend[-1].week
        # One week alone still needs a span to be drawn on.
        axis_x.setRange(_moment(first).addDays(-3), _moment(last).addDays(3))
        axis_x.setTickCount(min(max(len(figures.trend), 2), 6))
        chart.addAxis(axis_x, Qt.AlignmentFlag.AlignBottom)
        series.attachAxis(axis_x)
        series.setMarkerSize(9)
        axis_y = QValueAxis()
        # Half a step beyond 1 and 5, so a week rated 5 is not drawn on the chart's edge.
        axis_y.setRange(0.5, 5.5)
        axis_y.setTickType(QValueAxis.TickType.TicksDynamic)
        axis_y.setTickAnchor(1)
        axis_y.setTickInterval(1)
        axis_y.setLabelFormat("%d")
        chart.addAxis(axis_y, Qt.AlignmentFlag.AlignLeft)
        series.attachAxis(axis_y)
        self.rating_trend_chart.setChart(chart)

    # ------------------------------------------------------------ charts
    def _category_chart(self, counts: Sequence[tuple[str, int]]) -> None:
        _horizontal_bars(self.category_chart, "Tickets by category", counts, ACCENT, "tickets")

    def _machines_chart(self, counts: Sequence[tuple[str, int]]) -> None:
        _horizontal_bars(
            self.machines_chart,
            "Machines with recurring tickets",
            counts,
            THIRD,
            "tickets",
            empty="No machine reported twice in this period",
        )

    def _times_chart(self, stats: Figures) -> None:
        durations = [
            ("First response", stats.time_to_first_response),
            ("Resolution", stats.time_to_resolution),
            ("Walk-up wait", stats.walk_up_wait),
        ]
        longest = max(max(d.mean_seconds or 0.0, d.median_seconds or 0.0) for _label, d in durations)
        unit, per = ("minutes", 60.0)
        if longest < 90:  # a walk-up served within a minute reads "0.03 minutes" otherwise
            unit, per = ("seconds", 1.0)
        elif longest >= 72 * 3600:
            unit, per = ("days", 86400.0)
        elif longest >= 3 * 3600:
            unit, per = ("hours", 3600.0)
        chart = _new_chart("Response, resolution and walk-up wait")
        median = QBarSet("median")
        mean = QBarSet("mean")
        median.setColor(QColor(ACCENT))
        mean.setColor(QColor("#90caf9"))
        labels = []
        for label, duration in reversed(durations):  # horizontal bars draw the first one at the bottom
            median.append((duration.median_seconds or 0.0) / per)
            mean.append((duration.mean_seconds or 0.0) / per)
            # The value in words beside each bar: the scales of the three differ a hundredfold.
            labels.append(f"{label}: {format_seconds(duration.median_seconds)}")
        series = QHorizontalBarSeries()
        series.append(median)
        series.append(mean)
        chart.addSeries(series)
        axis_y = QBarCategoryAxis()
        axis_y.append(labels)
        chart.addAxis(axis_y, Qt.AlignmentFlag.AlignLeft)
        series.attachAxis(axis_y)
        axis_x = QValueAxis()
        axis_x.setRange(0, max(longest / per, 0.1) * 1.05)
        axis_x.applyNiceNumbers()
        axis_x.setLabelFormat("%g")
        axis_x.setTitleText(unit)
        chart.addAxis(axis_x, Qt.AlignmentFlag.AlignBottom)
        series.attachAxis(axis_x)
        chart.legend().setVisible(True)
        chart.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
        self.times_chart.setChart(chart)

    def _self_help_chart(self, stats: Figures) -> None:
        chart = _new_chart("Self-help")
        solved = stats.self_help.solved_by_article
        tickets = stats.tickets_created
        if solved + tickets == 0:
            chart.setTitle("Self-help — nothing recorded in this period")
        else:
            series = QPieSeries()
            series.setHoleSize(0.45)
            for label, value, colour in (
                ("Solved by an article", solved, SECOND),
                ("Became a ticket", tickets, "#b0bec5"),
            ):
                pie_slice = series.append(f"{label}: {value:,}", value)
                pie_slice.setColor(QColor(colour))
                pie_slice.setLabelVisible(value > 0)
            chart.addSeries(series)
            chart.legend().setVisible(True)
            chart.legend().setAlignment(Qt.AlignmentFlag.AlignRight)
        self.self_help_chart.setChart(chart)


def _moment(when: datetime) -> QDateTime:
    return QDateTime.fromMSecsSinceEpoch(int(when.timestamp() * 1000))


def _chart_view(title: str) -> QChartView:
    view = QChartView(_new_chart(title))
    view.setRenderHint(QPainter.RenderHint.Antialiasing)
    view.setMinimumHeight(220)
    return view


def _new_chart(title: str) -> QChart:
    chart = QChart()
    chart.setTitle(title)
    font = QFont()
    font.setPointSize(11)
    font.setBold(True)
    chart.setTitleFont(font)
    chart.legend().setVisible(False)
    chart.setMargins(QMargins(6, 6, 6, 6))
    chart.setAnimationOptions(QChart.AnimationOption.NoAnimation)
    return chart


def _horizontal_bars(
    view: QChartView, title: str, counts: Sequence[tuple[str, int]], colour: str, unit: str, empty: str = ""
) -> None:
    chart = _new_chart(title)
    shown = list(counts)[:MAX_BARS]
    if not shown:
        chart.setTitle(f"{title} — {empty or 'none in this period'}")
        view.setChart(chart)
        return
    shown.reverse()  # a horizontal bar chart draws its first category at the bottom
    bars = QBarSet(unit)
    bars.setColor(QColor(colour))
    for _label, count in shown:
        bars.append(count)
    series = QHorizontalBarSeries()
    series.append(bars)
    series.setLabelsVisible(True)
    series.setLabelsPosition(QHorizontalBarSeries.LabelsPosition.LabelsInsideEnd)
    chart.addSeries(series)
    axis_y = QBarCategoryAxis()
    axis_y.append([label or "(none)" for label, _count in shown])
    chart.addAxis(axis_y, Qt.AlignmentFlag.AlignLeft)
    series.attachAxis(axis_y)
    axis_x = QValueAxis()
    top, step = count_axis(max(count for _label, count in shown))
    # Counts are whole: ticks only on whole numbers (nice-number ticks at 0.25 read "0 0 1 1" as %d).
    axis_x.setRange(0, top)
    axis_x.setTickCount(top // step + 1)
    axis_x.setLabelFormat("%d")
    chart.addAxis(axis_x, Qt.AlignmentFlag.AlignBottom)
    series.attachAxis(axis_x)
    view.setChart(chart)


def count_axis(largest: int, most_ticks: int = MOST_COUNT_TICKS) -> tuple[int, int]:
    """The top of an axis of counts up to ``largest`` and the whole step between its ticks (1, 2, 5, 10, 20, …)."""
    largest = max(1, largest)
    step, magnitude = 1, 1
    while math.ceil(largest / step) + 1 > most_ticks:
        for factor in (2, 5, 10):
            step = factor * magnitude
            if math.ceil(largest / step) + 1 <= most_ticks:
                break
        magnitude *= 10
    return math.ceil(largest / step) * step, step


def _duration_text(duration: DurationSummary, unit: str = "ticket") -> tuple[str, str]:
    if duration.count == 0:
        return "–", f"no {unit} in this period yet"
    return (
        format_seconds(duration.median_seconds),
        f"median of {duration.count:,} {unit}{'s' if duration.count != 1 else ''}; "
        f"mean {format_seconds(duration.mean_seconds)}",
    )
