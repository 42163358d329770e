"""Connectors by type name, found through the `sluice.connectors` entry points.

Each entry point names a `ConnectorSpec` (connectors/spec.py): only strings, so listing the
connectors, `sluice --help` and config validation import no driver. A connector's classes are
imported when it is opened; a driver that is not installed fails with the pip command.
"""

from __future__ import annotations

import importlib
import json
import logging
from collections.abc import Mapping
from functools import cache
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from sluice.connectors.dialect import UNKNOWN, Dialect
from sluice.connectors.envrefs import is_env_ref, resolve_env_refs
from sluice.connectors.spec import ConnectorSpec
from sluice.core.errors import ConfigError

if TYPE_CHECKING:
    from sluice.connectors.base import Creds, Sink, Source

log = logging.getLogger("sluice.connectors")
ENTRY_POINT_GROUP = "sluice.connectors"


@cache
def _specs() -> dict[str, ConnectorSpec]:
    found: dict[str, ConnectorSpec] = {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            spec = entry.load()
        except Exception as exc:  # noqa: BLE001 - another package's bug must not stop sluice
            log.warning("connector %r (%s) cannot be loaded: %s", entry.name, entry.value, exc)
            continue
        if not isinstance(spec, ConnectorSpec) or spec.type_name != entry.name:
            log.warning(
                "entry point %r (%s) is not a ConnectorSpec named %r",
                entry.name,
                entry.value,
                entry.name,
            )
            continue
        found.setdefault(spec.type_name, spec)
    if not found:
        raise ConfigError(
            "no connectors are registered: sluice's own come with its installed package "
            "metadata; reinstall sluice (pip install -e . in a checkout)"
        )
    return found


def _load(path: str, spec: ConnectorSpec) -> Any:
    module, _, name = path.partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except ModuleNotFoundError as exc:
        raise _missing_driver(spec, exc) from exc


def _missing_driver(spec: ConnectorSpec, exc: ModuleNotFoundError) -> Exception:
    top = (exc.name or "").split(".")[0]
    if spec.extra and top in spec.driver_modules:
        return ConfigError(
            f"the {spec.type_name} connector needs {top}, which is not installed: "
            f"pip install 'sluice[{spec.extra}]'"
        )
    return exc


def widest_metadata(
    older: Mapping[bytes, bytes] | None, newer: Mapping[bytes, bytes] | None
) -> dict[bytes, bytes] | None:
    """The field metadata one load declares for a column read with `older` and then `newer`
    metadata: each connector widens the keys its source writes (ConnectorSpec.metadata_merge)."""
    merged: dict[bytes, bytes] | None = dict(newer) if newer is not None else None
    for spec in _specs().values():
        if spec.metadata_merge is not None:
            merged = _load(spec.metadata_merge, spec)(older, merged)
    return merged


def dialect(type_name: str) -> Dialect:
    """The naming and SQL facts of a sink type (a cautious default for one no spec knows)."""
    spec = _specs().get(type_name)
    return spec.dialect if spec is not None and spec.dialect is not None else UNKNOWN


def source_types() -> list[str]:
    return sorted(name for name, spec in _specs().items() if spec.source)


def sink_types() -> list[str]:
    return sorted(name for name, spec in _specs().items() if spec.sink)


def _spec(type_name: str, role: str) -> ConnectorSpec:
    spec = _specs().get(type_name)
    available = source_types() if role == "source" else sink_types()
    if spec is None or (spec.source if role == "source" else spec.sink) is None:
        raise ConfigError(
            f"unknown {role} type {type_name!r}: available {role} types are " + ", ".join(available)
        )
    return spec


def path_fields(type_name: str) -> tuple[str, ...]:
    """The creds fields of a type that name a local file (none for an unknown type)."""
    spec = _specs().get(type_name)
    if spec is None:
        return ()
    model: type[Creds] = _load(spec.creds, spec)
    return model.path_fields


def parse_creds_json(raw: str, *, role: str, type_name: str) -> dict[str, Any]:
    """Decode creds JSON without ever echoing its text (it may hold a password)."""
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        specs = _specs()
        example = specs[type_name].example_creds if type_name in specs else '{"key": "value"}'
        raise ConfigError(
            f"{role} creds are not valid JSON ({exc.msg} at line {exc.lineno} column "
            f"{exc.colno}); pass a JSON object such as '{example}', or @FILE to read it from a file"
        ) from None
    except RecursionError:
        raise ConfigError(
            f"{role} creds nest too deeply to read: pass a flat JSON object of settings such "
            'as \'{"path": "..."}\''
        ) from None
    if not isinstance(value, dict):
        raise ConfigError(f"{role} creds must be a JSON object, not {type(value).__name__}")
    return value


def validate_creds(
    type_name: str, creds: dict[str, Any], *, role: str, resolve_env: bool = True
) -> Creds:
    """The creds as the connector's model, with environment references resolved.

    With resolve_env=False (when creds are stored) a reference only has to be well formed:
    the variable is needed where connections open, not where the config is edited.
    """
    from pydantic import ValidationError

    if resolve_env:
        creds = resolve_env_refs(creds, role)
    else:
        creds = {k: "${" + v["env"] + "}" if is_env_ref(v) else v for k, v in creds.items()}
    spec = _spec(type_name, role)
    model: type[Creds] = _load(spec.creds, spec)
    try:
        return model.model_validate(creds)
    except ValidationError as exc:
        problems = "; ".join(_describe(error) for error in exc.errors())
        raise ConfigError(
            f"{role} creds for type {type_name!r} are invalid: {problems}; "
            f"expected JSON like {spec.example_creds}"
        ) from None


def _describe(error: Any) -> str:
    field = ".".join(str(part) for part in error["loc"]) or "(root)"
    kind = error["type"]
    if kind == "missing":
        return f"field {field!r} is required"
    if kind == "extra_forbidden":
        return f"field {field!r} is not known"
    # pydantic's message never includes the input value itself, so no secret can leak here.
    return f"field {field!r}: {error['msg']}"


def redacted_creds(type_name: str, creds: dict[str, Any], *, role: str) -> dict[str, Any]:
    """Creds for display: secret fields masked by their declared type, env references shown."""
    from pydantic import SecretStr

    spec = _specs().get(type_name)
    if spec is None:
        return {key: "***" for key in creds}
    model: type[Creds] = _load(spec.creds, spec)
    shown: dict[str, Any] = {}
    # Fields by the name creds give them (an alias where a field's name is taken).
    fields = {info.alias or name: info for name, info in model.model_fields.items()}
    for field, value in creds.items():
        info = fields.get(field)
        secret = info is None or "SecretStr" in str(info.annotation) or info.annotation is SecretStr
        if is_env_ref(value):
            shown[field] = value
        elif secret and value is not None:
            shown[field] = "***"
        else:
            shown[field] = value
    return shown


def open_source(type_name: str, creds: dict[str, Any]) -> Source:
    model = validate_creds(type_name, creds, role="source")
    spec = _spec(type_name, "source")
    source: Source = _opened(spec, spec.source or "", model)
    return source


def open_sink(type_name: str, creds: dict[str, Any]) -> Sink:
    model = validate_creds(type_name, creds, role="destination")
    spec = _spec(type_name, "destination")
    sink: Sink = _opened(spec, spec.sink or "", model)
    return sink


def _opened(spec: ConnectorSpec, path: str, creds: Creds) -> Any:
    """An instance of the class at `path`, once its drivers are known to import (a connector
    imports them lazily, as it connects: a missing one would surface mid-run otherwise)."""
    for module in spec.driver_modules:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            raise _missing_driver(spec, exc) from exc
    return _load(path, spec)(creds)
