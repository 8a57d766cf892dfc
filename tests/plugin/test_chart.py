"""The server-side SVG chart of size and match rate."""

from __future__ import annotations

from datetime import datetime, timedelta

from tiktok_audiences.ui.chart import history_chart


def test_no_points_gives_a_note_not_an_empty_chart():
    assert "<svg" not in history_chart([]) and "first run" in history_chart([(datetime(2026, 1, 1), None, None)])


def test_two_series_scaled_into_the_plot():
    start = datetime(2026, 1, 1)
    svg = str(history_chart([(start + timedelta(days=i), 1000 + 100 * i, 0.5 + i / 100) for i in range(5)]))
    assert svg.count("<polyline") == 2 and svg.count("<circle") == 10
    assert "1,540" in svg  # size axis: 10% above the largest size
    assert "2026-01-01 00:00" in svg and "2026-01-05 00:00" in svg


def test_runs_before_tiktok_processed_the_audience_have_no_match_point():
    start = datetime(2026, 1, 1)
    svg = str(history_chart([(start, 3000, None), (start + timedelta(hours=1), 3100, 0.6)]))
    assert svg.count("<circle") == 3
