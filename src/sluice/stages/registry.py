"""Stage types by name. A type is registered as its class is defined (subclass StageType)."""

from __future__ import annotations

import importlib
import os
from typing import ClassVar

from sluice.core.errors import ConfigError
from sluice.core.models import Hop
from sluice.stages.context import StageContext, StageResult

_TYPES: dict[str, type[StageType]] = {}
# Modules that define the built-in stage types; imported on first lookup.
_BUILTINS = (
    "sluice.stages.source_stages",
    "sluice.stages.sink_stages",
)


class StageType:
    """One kind of step. `hop` says which hop's runs include it."""

    name: ClassVar[str]
    hop: ClassVar[Hop]

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:
            _TYPES[cls.name] = cls

    def run(self, ctx: StageContext) -> StageResult:
        raise NotImplementedError


def _load_builtins() -> None:
    """The built-in stage types, and plug-in modules named in SLUICE_STAGE_MODULES."""
    extra = [m.strip() for m in os.environ.get("SLUICE_STAGE_MODULES", "").split(",") if m.strip()]
    for module in (*_BUILTINS, *extra):
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise ConfigError(
                f"stage module {module!r} (SLUICE_STAGE_MODULES) cannot be imported: {exc}"
            ) from None


def stage_types() -> dict[str, type[StageType]]:
    _load_builtins()
    return dict(_TYPES)


def get_stage_type(name: str) -> type[StageType]:
    types = stage_types()
    if name not in types:
        raise ConfigError(
            f"stage type {name!r} is not known: available types are {', '.join(sorted(types))}"
        )
    return types[name]
