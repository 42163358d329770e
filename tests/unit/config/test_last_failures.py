"""Which hop a failed run's error belongs to, from the failing stage named in it."""

from sluice.config.history import failed_hops
from sluice.core.models import Hop, HopChoice
from sluice.stages.registry import stage_types

HOPS = {name: kind.hop for name, kind in stage_types().items()}


def test_a_run_of_both_hops_that_died_in_hop_1_is_not_hop_2s_error() -> None:
    died = failed_hops(HopChoice.ALL, "extract: table 'x' does not exist", HOPS)
    assert died == (Hop.SOURCE_TO_DL,)
    assert failed_hops(HopChoice.ALL, "load: column 'c' ...", HOPS) == (Hop.DL_TO_SINK,)


def test_an_error_naming_no_stage_belongs_to_every_hop_the_run_covered() -> None:
    assert failed_hops(HopChoice.ALL, "interrupted; nothing published", HOPS) == tuple(Hop)
    assert failed_hops(HopChoice.DL_TO_SINK, "worker died", HOPS) == (Hop.DL_TO_SINK,)
    # A stage of the other hop cannot have failed a one-hop run: the run's own hop it is.
    assert failed_hops(HopChoice.SOURCE_TO_DL, "load: x", HOPS) == (Hop.SOURCE_TO_DL,)
