"""Connectors by type name. Drivers are imported only when a connector is opened.

A connector package registers a `ConnectorSpec` naming its creds model, source and sink by
"module:Class" paths, so `sluice --help` and config validation never import a driver.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sluice.connectors.envrefs import is_env_ref, resolve_env_refs
from sluice.core.errors import ConfigError

if TYPE_CHECKING:
    from sluice.connectors.base import Creds, Sink, Source


@dataclass(frozen=True)
class ConnectorSpec:
    type_name: str
    creds: str
    example_creds: str
    source: str | None = None
    sink: str | None = None


_SPECS: dict[str, ConnectorSpec] = {}


def register(spec: ConnectorSpec) -> None:
    _SPECS[spec.type_name] = spec


register(
    ConnectorSpec(
        type_name="sqlite",
        creds="sluice.connectors.sqlite.config:SQLiteCreds",
        example_creds='{"path": "data/shop.db"}',
        source="sluice.connectors.sqlite.source:SQLiteSource",
        sink="sluice.connectors.sqlite.sink:SQLiteSink",
    )
)
register(
    ConnectorSpec(
        type_name="duckdb",
        creds="sluice.connectors.duckdb.config:DuckDBCreds",
        example_creds='{"path": "warehouse.duckdb"}',
        sink="sluice.connectors.duckdb.sink:DuckDBSink",
    )
)
register(
    ConnectorSpec(
        type_name="postgres",
        creds="sluice.connectors.postgres.config:PostgresCreds",
        example_creds='{"host": "db.example.com", "port": 5432, "user": "app", '
        '"password": "...", "database": "shop"}',
        source="sluice.connectors.postgres.source:PostgresSource",
        sink="sluice.connectors.postgres.sink:PostgresSink",
    )
)
register(
    ConnectorSpec(
        type_name="mysql",
        creds="sluice.connectors.mysql.config:MySQLCreds",
        example_creds='{"host": "db.example.com", "port": 3306, "user": "app", '
        '"password": "...", "database": "shop"}',
        source="sluice.connectors.mysql.source:MySQLSource",
    )
)


def _load(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def source_types() -> list[str]:
    return sorted(name for name, spec in _SPECS.items() if spec.source)


def sink_types() -> list[str]:
    return sorted(name for name, spec in _SPECS.items() if spec.sink)


def _spec(type_name: str, role: str) -> ConnectorSpec:
    spec = _SPECS.get(type_name)
    available = source_types() if role == "source" else sink_types()
    if spec is None or (spec.source if role == "source" else spec.sink) is None:
        raise ConfigError(
            f"unknown {role} type {type_name!r}: available {role} types are " + ", ".join(available)
        )
    return spec


def path_fields(type_name: str) -> tuple[str, ...]:
    """The creds fields of a type that name a local file (none for an unknown type)."""
    spec = _SPECS.get(type_name)
    if spec is None:
        return ()
    model: type[Creds] = _load(spec.creds)
    return model.path_fields


def parse_creds_json(raw: str, *, role: str, type_name: str) -> dict[str, Any]:
    """Decode creds JSON without ever echoing its text (it may hold a password)."""
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        example = _SPECS[type_name].example_creds if type_name in _SPECS else '{"key": "value"}'
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
    model: type[Creds] = _load(spec.creds)
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

    spec = _SPECS.get(type_name)
    if spec is None:
        return {key: "***" for key in creds}
    model: type[Creds] = _load(spec.creds)
    shown: dict[str, Any] = {}
    for field, value in creds.items():
        info = model.model_fields.get(field)
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
    source_class = _load(_spec(type_name, "source").source or "")
    source: Source = source_class(model)
    return source


def open_sink(type_name: str, creds: dict[str, Any]) -> Sink:
    model = validate_creds(type_name, creds, role="destination")
    sink_class = _load(_spec(type_name, "destination").sink or "")
    sink: Sink = sink_class(model)
    return sink
