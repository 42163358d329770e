"""The config as a YAML document (`sluice apply`, `sluice export`): its shape, and reading it
with every error naming the file, the line and the field.

    sources:                      # name -> type and creds ({"env": NAME} keeps a secret out)
      shop: {type: postgres, creds: {host: db, user: app, password: {env: PG_PASSWORD},
                                     database: shop}}
    destinations:
      wh: {type: duckdb, creds: {path: wh.duckdb}}
    pipelines:                    # stage templates: name -> stages in order
      default:
        - {type: check_source, name: Check source}
    tables:
      - source_tablename: public.orders     # one table, with every `table add` option
        source: shop
        destination: wh
        primary_key: [id]
        load: incremental
        key: updated_at
      - match: "sales.order_*"              # or a pattern over the source's tables
        exclude: ["sales.order_tmp*"]
        source: shop
        destination: wh

`--prune` removes what the document leaves out, except what a table it keeps still uses (the
`default` template, a connection its tables name without listing it).

A secret shown as `***` (as `sluice export` writes a secret it may not show) keeps the stored
value; a connection that has none must give it.
"""

from __future__ import annotations

from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from sluice.core.errors import ConfigError

# How `sluice export` writes a secret it may not show; `apply` keeps the stored value for it.
MASKED = "***"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConnectionDoc(_Strict):
    type: str
    creds: dict[str, Any] = Field(default_factory=dict)


class StageDoc(_Strict):
    type: str
    name: str | None = None  # the type, when not given
    driver_container: str | None = None


class TableDoc(_Strict):
    """One table (`source_tablename`) or every table of the source a pattern (`match`)
    finds, with the options of `sluice table add` (named as its long options, with _)."""

    source_tablename: str | None = None
    match: str | None = None
    exclude: list[str] = Field(default_factory=list)
    source: str
    destination: str
    sink_table: str | None = None
    load: str | None = None
    key: str | None = None
    every: int | str | None = None
    sink_load: str | None = None
    sink_key: str | None = None
    sink_every: int | str | None = None
    primary_key: list[str] | None = None
    pipeline: str | None = None
    lookback: str | None = None
    null_key_fallback: str | None = None
    lake_keep_full: int | None = None
    future_tolerance: str | None = None
    future_policy: str | None = None
    hop_order: str | None = None
    schema_contract: str | None = None
    zero_dates: str | None = None
    nested: str | None = None
    partitions: int | None = None
    fresh_within: str | None = None
    sink_fresh_within: str | None = None
    partition_by: str | None = None
    cluster_by: list[str] | None = None
    active: bool = True  # hop 1 runs (false: paused)
    sink_active: bool = True  # hop 2 runs

    @field_validator("primary_key", "cluster_by", mode="before")
    @classmethod
    def _listed(cls, value: Any) -> Any:
        """`a,b` as well as [a, b]."""
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _one_or_many(self) -> TableDoc:
        if (self.source_tablename is None) == (self.match is None):
            raise ValueError("give either 'source_tablename' (one table) or 'match' (a pattern)")
        if self.exclude and self.match is None:
            raise ValueError("'exclude' goes with 'match'")
        if self.match is not None and self.sink_table is not None:
            raise ValueError("'sink_table' names one table: it cannot go with 'match'")
        return self


class ConfigDocument(_Strict):
    sources: dict[str, ConnectionDoc] = Field(default_factory=dict)
    destinations: dict[str, ConnectionDoc] = Field(default_factory=dict)
    pipelines: dict[str, list[StageDoc]] = Field(default_factory=dict)
    tables: list[TableDoc] = Field(default_factory=list)


def read_document(text: str, origin: str) -> tuple[ConfigDocument, dict[tuple[Any, ...], int]]:
    """The document in `text` (`origin` names it in errors) and the line of each path in it
    (('tables', 3, 'key') -> 17), for later errors about a value."""
    import yaml

    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                # An alias can make a few lines expand into millions of values.
                line = event.start_mark.line + 1 if event.start_mark else 1
                raise ConfigError(
                    f"{origin}, line {line}: YAML aliases (*name) are not accepted: write the "
                    "values out"
                )
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.load(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{origin}, line {mark.line + 1}" if mark is not None else origin
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{where}: not valid YAML: {problem}") from None
    lines: dict[tuple[Any, ...], int] = {}
    if root is not None:
        _index(root, (), lines)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{origin}, line 1: the document must be a mapping with sources, destinations, "
            "pipelines and tables"
        )
    try:
        return ConfigDocument.model_validate(data), lines
    except ValidationError as exc:
        error = exc.errors()[0]
        path = tuple(error["loc"])
        field = ".".join(str(part) for part in path) or "the document"
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "is not a known field"
        elif error["type"] == "missing":
            message = "is required"
        raise ConfigError(f"{origin}, line {line_of(lines, path)}: {field}: {message}") from None


def line_of(lines: dict[tuple[Any, ...], int], path: tuple[Any, ...]) -> int:
    """The line of `path`, or of the nearest enclosing path the document has."""
    while path and path not in lines:
        path = path[:-1]
    return lines.get(path, 1)


def _index(node: Any, path: tuple[Any, ...], lines: dict[tuple[Any, ...], int]) -> None:
    import yaml

    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = (*path, key.value)
            _index(value, child, lines)
            lines[child] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for number, item in enumerate(node.value):
            _index(item, (*path, number), lines)
