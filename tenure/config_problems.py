"""How invalid configuration is told: one line per bad key, naming it and the expected form."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, get_args, get_origin

from pydantic import BaseModel

from tenure.secrets import shown

__all__ = ["ConfigError", "describe", "dotted"]


class ConfigError(Exception):
    """Invalid configuration: one message per bad key."""

    def __init__(self, path: Path | None, problems: list[str]):
        self.path = path
        self.problems = problems
        where = f"{path}: " if path else ""
        super().__init__("\n".join(where + p for p in problems))


def dotted(loc: tuple[Any, ...]) -> str:
    """A config location as its key path: ``chains.default[0]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "[key]":
            continue
        else:
            out += ("." if out else "") + str(part)
    return out


def _keys_at(root: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys allowed at a config path, found by walking the models' field annotations."""
    node: Any = root
    for part in loc:
        if isinstance(node, type) and issubclass(node, BaseModel):
            node = node.model_fields[str(part)].annotation if str(part) in node.model_fields else None
        else:  # a dict[...] (or Optional) field: step into its value type
            args = [a for a in get_args(node) if a is not type(None)]
            node = args[-1] if args else None
        while get_origin(node) is Annotated:
            node = get_args(node)[0]
    return list(node.model_fields) if isinstance(node, type) and issubclass(node, BaseModel) else []


def describe(err: Any, root: type[BaseModel]) -> str:
    """One pydantic error of the config model ``root`` as a line naming the key and the expected form."""
    loc = tuple(err["loc"])
    where = dotted(loc)
    kind = err["type"]
    if kind == "extra_forbidden":
        keys = _keys_at(root, loc[:-1])
        return f"{where}: unknown key" + (f"; expected one of {', '.join(keys)}" if keys else "")
    if kind == "value_error":
        message = str(err["ctx"]["error"])
        return f"{where}: {message}" if where else message
    if kind == "string_pattern_mismatch" and loc[:1] == ("agents",):
        return f"{where}: not an agent name; expected lower-case letters, digits, '-' or '_', at most 32"
    if kind == "string_pattern_mismatch" and loc[:1] == ("task_types",):
        return f"{where}: not a task type name; expected lower-case letters, digits or '_'"
    if kind == "string_pattern_mismatch" and loc[:1] == ("chains",):
        return (
            f"{where}: not a chain name; expected letters, digits, '-' or '_' (model ids go inside the list)"
        )
    if kind == "missing":
        return f"{where}: required key is missing"
    given = err.get("input")
    return f"{where}: {err['msg']} (got {shown(given) if isinstance(given, str) else repr(given)})"
