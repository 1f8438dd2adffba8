"""`python -m training evaluate` prints its table and writes it with a chart (PNG and SVG)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bundles import planted_release
from training.commands.cli import main


def test_evaluate_writes_table_and_chart(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    reports = tmp_path / "reports"
    code = main(["-q", "evaluate", "--data", str(planted_release()), "--seeds", "2",
                 "--models", "popularity,content", "--report-dir", str(reports)])
    assert code == 0
    out = capsys.readouterr().out
    assert "| popularity | " in out and "| content | " in out
    stem = reports / "ml-1m-temporal"  # the layout names a folder not called ml-*
    table = stem.with_suffix(".md").read_text()
    assert "2 seed(s)" in table and "| popularity |" in table
    png = stem.with_suffix(".png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5_000
    svg = stem.with_suffix(".svg").read_text()
    assert "<svg" in svg and "popularity" in svg and "ndcg@10" in svg
    for path in (stem.with_suffix(".md"), stem.with_suffix(".png"), stem.with_suffix(".svg")):
        assert f"wrote {path}" in out


def test_the_report_lists_what_the_hybrid_chose_per_seed() -> None:
    from training.commands.evaluate import Row, format_table

    row = Row("hybrid", runs=[{"ndcg@10": 0.12}, {"ndcg@10": 0.14}],
              chosen=[{"negatives": 9, "item_item_weight": 0.25},
                      {"negatives": 16, "item_item_weight": 1.0}])
    table = format_table([row, Row("ease", runs=[{"ndcg@10": 0.13}])], "title")
    assert "| hybrid | 0.1300 ± 0.0100 |" in table
    assert "- seed 0: negatives 9, item_item_weight 0.25" in table
    assert "- seed 1: negatives 16, item_item_weight 1.0" in table
    assert "ease, chosen" not in table
