"""Deeply immutable JSON values, so a loaded config can be shared between threads safely.

``FrozenDict``/``FrozenList`` subclass ``dict``/``list`` so ``json.dumps``, ``==`` and
``isinstance(x, dict)`` keep working; every mutating method raises ``TypeError``.
:func:`thaw` (and ``copy.deepcopy``) hand out plain mutable copies for code that edits a
config (``config.patch``, ``config set``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NoReturn, SupportsIndex, cast

__all__ = ["FrozenDict", "FrozenList", "freeze", "thaw"]


def _immutable(self: object, *args: object, **kwargs: object) -> NoReturn:
    raise TypeError(f"{type(self).__name__} is immutable; use openclaw.config.thaw() for a copy")


class FrozenDict(dict[str, Any]):
    """A read-only ``dict``.  Build it with :func:`freeze` so nested values are frozen too."""

    __slots__ = ()

    __setitem__ = _immutable
    __delitem__ = _immutable
    __ior__ = _immutable
    clear = _immutable
    pop = _immutable
    popitem = _immutable
    setdefault = _immutable
    update = _immutable

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(frozenset(self.items()))

    def __copy__(self) -> FrozenDict:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        return cast(dict[str, Any], thaw(self))

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenDict, (dict(self),))

    def __repr__(self) -> str:
        return f"FrozenDict({dict.__repr__(self)})"


class FrozenList(list[Any]):
    """A read-only ``list``; compares equal to a plain list with the same items."""

    __slots__ = ()

    __setitem__ = _immutable
    __delitem__ = _immutable
    __iadd__ = _immutable
    __imul__ = _immutable
    append = _immutable
    clear = _immutable
    extend = _immutable
    insert = _immutable
    pop = _immutable
    remove = _immutable
    reverse = _immutable
    sort = _immutable

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(self))

    def __copy__(self) -> FrozenList:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> list[Any]:
        return cast(list[Any], thaw(self))

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenList, (list(self),))

    def __repr__(self) -> str:
        return f"FrozenList({list.__repr__(self)})"

    def __add__(self, other: Iterable[Any]) -> list[Any]:
        return [*self, *other]

    def __mul__(self, count: SupportsIndex) -> list[Any]:
        return list(self) * count


def freeze(value: Any) -> Any:
    """A deeply immutable copy of a JSON-like value (dicts, lists/tuples, scalars)."""
    if isinstance(value, FrozenDict | FrozenList):
        return value
    if isinstance(value, Mapping):
        return FrozenDict({str(key): freeze(item) for key, item in value.items()})
    if isinstance(value, list | tuple):
        return FrozenList(freeze(item) for item in value)
    return value


def thaw(value: Any) -> Any:
    """A plain, mutable deep copy (``dict``/``list``) of a frozen or plain JSON-like value."""
    if isinstance(value, Mapping):
        return {key: thaw(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [thaw(item) for item in value]
    return value
