"""Creds values that name an environment variable instead of holding the secret."""

from __future__ import annotations

import os
from typing import Any

from sluice.core.errors import ConfigError


def resolve_env_refs(creds: dict[str, Any], role: str) -> dict[str, Any]:
    """Replace {"env": "NAME"} values by the environment's value of NAME."""
    resolved = {}
    for field, value in creds.items():
        if is_env_ref(value):
            name = value["env"]
            if name not in os.environ:
                raise ConfigError(
                    f"{role} creds field {field!r} refers to environment variable {name}, "
                    "which is not set"
                )
            resolved[field] = os.environ[name]
        else:
            resolved[field] = value
    return resolved


def is_env_ref(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"env"} and isinstance(value["env"], str)
