"""crud of the users service: plain functions on a Core connection, raising domain errors.

A statement that several requests run is built once, on its first use (`statement`), and
kept: a request only binds values. Not at import, which every cold start would pay for
every statement, whatever its first request runs; a SnapStart init builds them all
(`build_statements`), so that a restored environment builds none.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar

T = TypeVar("T")

# The builders as `functools.cache` made them: each keeps what it built.
_BUILDERS: list[Any] = []


def statement(build: Callable[[], T]) -> Callable[[], T]:
    """Make `build` (no arguments) build its statement on the first call, then return it."""
    built = cache(build)
    _BUILDERS.append(built)
    return built


def build_statements() -> None:
    """Build every statement of the crud modules imported so far."""
    for build in _BUILDERS:
        build()


def statements_built() -> bool:
    """Tell whether every statement of the crud modules imported so far is built."""
    return all(build.cache_info().currsize for build in _BUILDERS)
