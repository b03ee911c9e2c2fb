"""The figures dashboard against the real server's /stats."""

from __future__ import annotations

import requests
from PySide6.QtCharts import QAbstractBarSeries, QBarCategoryAxis, QPieSeries
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from technician.model import Column
from tests.fixtures.server import ServerProcess
from tests.technician.conftest import ReportSender, TechWindows, open_in_viewer
from tests.technician.test_work import press


def bar_values(chart_view: object) -> dict[str, float]:
    chart = chart_view.chart()  # type: ignore[attr-defined]
    series = [s for s in chart.series() if isinstance(s, QAbstractBarSeries)]
    assert len(series) == 1
    axis = next(a for a in chart.axes() if isinstance(a, QBarCategoryAxis))
    bar_set = series[0].barSets()[0]
    return {label: bar_set.at(i) for i, label in enumerate(axis.categories())}


def test_dashboard_shows_the_period_figures_as_charts(
    qtbot: QtBot, server_process: ServerProcess, reporter: ReportSender, tech_windows: TechWindows
) -> None:
    reporter.send(category="Printing", source_id="pc-9")
    reporter.send(category="Printing", source_id="pc-9")
    solved = reporter.send(category="Network", source_id="lt-1")
    for _visitor in range(2):  # a kiosk takes many people's reports: it is nobody's recurring machine
        reporter.send(category="Laptop", kind="kiosk", source_id="hq-bar-1", site="HQ", walk_up=True)
    answer = requests.post(
        f"{server_process.api}/self-help",
        json={"article": "reset-password", "category": "Login"},
        headers=server_process.auth(reporter.token),
        timeout=10,
    )
    assert answer.status_code == 201
    window = tech_windows(server_process)
    open_in_viewer(qtbot, window, solved.id)
    window.actions_by_name["status-resolved"].trigger()
    model = window.session.model
    qtbot.waitUntil(lambda: model.index(model.row_of(solved.id) or 0, Column.STATUS).data() == "resolved")

    dashboard = window.dashboard
    with qtbot.waitSignal(window.session.stats_loaded, timeout=10_000):
        press(qtbot, window, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    assert window.tabs.currentWidget() is dashboard
    assert dashboard.tiles["created"].value.text() == "5"
    assert dashboard.tiles["open"].value.text() == "4"
    assert dashboard.tiles["resolution"].value.text() != "–"
    assert "median of 1 ticket" in dashboard.tiles["resolution"].detail.text()
    assert dashboard.tiles["first_response"].value.text() != "–"
    assert dashboard.tiles["self_help"].value.text() == "17%"  # 1 solved by an article of 1 + 5
    assert dashboard.tiles["walk_up"].value.text() == "–"  # nobody was called yet

    assert bar_values(dashboard.category_chart) == {"Laptop": 2.0, "Network": 1.0, "Printing": 2.0}
    assert bar_values(dashboard.machines_chart) == {"pc-9": 2.0}
    pie = [s for s in dashboard.self_help_chart.chart().series() if isinstance(s, QPieSeries)]
    assert [round(s.value()) for s in pie[0].slices()] == [1, 5]

    dashboard.period.setCurrentIndex(0)  # another period asks again
    qtbot.waitUntil(lambda: dashboard.state.text().startswith("As of"), timeout=10_000)
