"""Declaring parameter classes: fields with docs and bounds, and the types beyond Python's
scalars that the strict loader (:mod:`.strict`) reads."""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from typing import Annotated, Any

__all__ = [
    "param",
    "section",
    "attached",
    "OneOf",
    "Pairs",
    "Scalar",
    "pairs_value_type",
    "one_of_in",
]

_V = typing.TypeVar("_V")

#: A free-form mapping with text keys and values of one type, ``Pairs[Scalar]``: stored as
#: (key, value) pairs sorted by key, so that the class holding it stays hashable and
#: comparable; YAML writes it as a mapping.
Pairs = tuple[tuple[str, _V], ...]

#: A number, a text or a flag (the values of a free-form mapping such as a rule's params).
Scalar = int | float | str | bool


def param(
    doc: str,
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    default: Any = dataclasses.MISSING,
    static: bool = False,
    nonempty: bool | None = None,
    repeat: bool = False,
) -> Any:
    """A parameter field with a docstring and physical bounds checked at load time.

    Args:
        ge, gt, le, lt: bounds of a number (of each number of a list).
        static: an ``equinox`` static field (not a pytree leaf).
        nonempty: refuse an empty text (default: allowed) or an empty list (default: refused).
        repeat: a fixed-length tuple may be given as one value, repeated (``5`` → ``(5, 5)``).
    """
    metadata: dict[str, Any] = {"doc": doc, "ge": ge, "gt": gt, "le": le, "lt": lt}
    if static:
        metadata["static"] = True
    if nonempty is not None:
        metadata["nonempty"] = nonempty
    if repeat:
        metadata["repeat"] = True
    return dataclasses.field(default=default, metadata=metadata)


def section(doc: str, *, default: Any = dataclasses.MISSING, shorthand: str | None = None) -> Any:
    """A nested parameter class (a YAML mapping).

    Args:
        shorthand: a field of the nested class that a single value given in place of the
            mapping stands for (``rule: softhebb`` for ``rule: {name: softhebb}``).
    """
    metadata: dict[str, Any] = {"doc": doc, "section": True}
    if shorthand is not None:
        metadata["shorthand"] = shorthand
    return dataclasses.field(default=default, metadata=metadata)


def attached(doc: str, *, default: Any) -> Any:
    """A field the loader's caller fills, never a key of the file (e.g. the file's name).

    Keyword-only, so it may follow fields without defaults; :func:`~.strict.build` neither
    reads nor lists it, and :func:`~.mappings.dump` leaves it out.
    """
    return dataclasses.field(
        default=default, kw_only=True, metadata={"doc": doc, "attached": True, "static": True}
    )


@dataclasses.dataclass(frozen=True, eq=False)
class OneOf:
    """Type metadata: a mapping that holds one of several parameter classes, chosen by the
    value of its ``tag`` key. ``Annotated[Layer, OneOf("type", LAYER_TYPES)]`` reads
    ``{type: dense, name: fc, ...}`` as a ``Dense``."""

    tag: str
    variants: Mapping[str, type]

    def name_of(self, obj: Any) -> str:
        """The tag value of ``obj``'s class."""
        for name, cls in self.variants.items():
            if type(obj) is cls:
                return name
        raise TypeError(f"{type(obj).__name__} is not one of {', '.join(self.variants)}")


def pairs_value_type(tp: Any) -> Any:
    """``V`` of a ``Pairs[V]`` annotation; None for any other type."""
    args = typing.get_args(tp) if typing.get_origin(tp) is tuple else ()
    if len(args) != 2 or args[1] is not Ellipsis or typing.get_origin(args[0]) is not tuple:
        return None
    pair = typing.get_args(args[0])
    return pair[1] if len(pair) == 2 and pair[0] is str else None


def one_of_in(tp: Any) -> OneOf | None:
    """The :class:`OneOf` of an ``Annotated[Base, OneOf(...)]`` annotation, else None."""
    if typing.get_origin(tp) is not Annotated:
        return None
    return next((m for m in tp.__metadata__ if isinstance(m, OneOf)), None)
