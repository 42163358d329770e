"""The main job: `sluice demo` replicates the shop full then incremental, and says it matches."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Sluice


def test_demo_runs_end_to_end_twice_in_a_row(sluice: Sluice, workdir: Path) -> None:
    for _ in range(2):
        result = sluice("demo --dir shopdemo --order-items 6000")
        assert result.code == 0, result.err + result.out[-2000:]
        assert "demo complete" in result.out
        assert "NO" not in result.out.split("source vs sink", 1)[1]
    assert (workdir / "shopdemo/warehouse.duckdb").is_file()
    manifests = sorted((workdir / "shopdemo/lake/shop/order_items").glob("batch=*/_manifest.json"))
    assert len(manifests) == 2


def test_demo_refuses_to_replace_a_directory_it_did_not_make(sluice: Sluice, workdir: Path) -> None:
    (workdir / "precious").mkdir()
    (workdir / "precious" / "thesis.tex").write_text("years of work")
    result = sluice("demo --dir precious")
    assert result.code == 3
    assert "was not made by `sluice demo`" in result.err
    assert (workdir / "precious" / "thesis.tex").read_text() == "years of work"
