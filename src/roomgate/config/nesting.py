"""How deep a preset's values may nest, checked before anything walks them recursively.

A preset is at most four tables deep (``mics.far.gate.attack_ms``), holding numbers, text and
lists of three numbers. Python's TOML and JSON parsers, ``copy.deepcopy`` and ``repr`` recurse
once per level, so a value nested thousands deep (``[[[[...]]]]`` in a preset, a ``--set`` or a
studio request) raised RecursionError with a traceback thousands of lines long. Here that is one
:class:`~roomgate.errors.ConfigError` line instead.
"""

from __future__ import annotations

import tomllib
from typing import Any

from ..errors import ConfigError

__all__ = ["MAX_NESTING", "check_nesting", "loads_toml", "nesting_depth"]

#: The deepest nesting a preset table or value may have (tables and lists, counted alike).
MAX_NESTING = 16


def nesting_depth(value: Any, limit: int = MAX_NESTING) -> int:
    """How many tables and lists deep ``value`` goes (0 for a number or text), counted without
    recursion; the count stops once past ``limit``."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            continue
        depth += 1
        deepest = max(deepest, depth)
        if deepest > limit:
            break
        stack.extend((child, depth) for child in children)
    return deepest


def check_nesting(value: Any, where: str, limit: int = MAX_NESTING) -> None:
    """Refuse a value nested more than ``limit`` tables and lists deep (ConfigError naming ``where``)."""
    if nesting_depth(value, limit) > limit:
        raise ConfigError(f"{where}: nested more than {limit} levels deep; a preset needs about 4")


def loads_toml(text: str, where: str) -> dict[str, Any]:
    """``tomllib.loads`` that refuses deep nesting in one line (TOMLDecodeError passes through)."""
    try:
        table = tomllib.loads(text)
    except RecursionError:
        raise ConfigError(f"{where}: nested more than Python's parser can follow; a preset needs about 4 "
                          "levels") from None
    check_nesting(table, where)
    return table
