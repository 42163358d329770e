"""The missing-table message every source shares."""

from __future__ import annotations

from sluice.connectors.missing import LISTED, missing_table


def test_it_names_the_closest_table_and_lists_the_first_twenty() -> None:
    names = [f"t{i:02d}" for i in range(30)] + ["orders"]
    message = str(missing_table("table 'ordrs' does not exist in x", "ordrs", names))
    assert message.startswith("table 'ordrs' does not exist in x")
    assert "did you mean 'orders'" in message
    listed = message.split("; tables there: ", 1)[1].split(", ")
    assert listed == [*names[:LISTED], "..."]


def test_no_tables_at_all_says_so() -> None:
    message = str(missing_table("table 't' does not exist in y", "t", []))
    assert message == "table 't' does not exist in y; tables there: (none)"
