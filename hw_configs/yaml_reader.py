"""Reading YAML strictly: one mapping per document, no key given twice, bounded aliases.

Every problem is a :class:`ConfigError` naming the file (or other source) and ``<file>``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError, brief, kind_of

__all__ = ["read_yaml", "read_text", "parse_yaml", "MAX_ALIAS_EXPANSION"]


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML file that must hold one mapping; errors name the file."""
    return parse_yaml(read_text(path), str(path))


def read_text(path: str | Path) -> str:
    """The text of a UTF-8 file; a missing or unreadable file is a ConfigError naming it."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), "<file>", "file does not exist") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(str(path), "<file>", f"cannot be read ({err})") from None


def parse_yaml(text: str, source: str) -> dict[str, Any]:
    """Parse YAML ``text`` that must hold one mapping; errors name ``source``."""
    try:
        data = yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(source, "<file>", f"malformed YAML{where}: {problem}") from None
    if not isinstance(data, dict):
        raise ConfigError(
            source, "<file>", f"expected a mapping at the top level, got {kind_of(data)}"
        )
    return data


#: Most YAML nodes that aliases (``*name``) may add to one document. Aliases share one parsed
#: object, but everything that walks the result (the strict checks, a deep copy, an error
#: message) walks every expansion: nine levels of nine aliases ("billion laughs") are 9^9
#: values from a few hundred bytes. No preset or job needs more than a few hundred.
MAX_ALIAS_EXPANSION = 100_000


class _AliasBomb(yaml.MarkedYAMLError):
    pass


class _StrictLoader(yaml.SafeLoader):
    """yaml.SafeLoader that rejects a key given twice in one mapping (PyYAML keeps the last),
    aliases that expand beyond :data:`MAX_ALIAS_EXPANSION` nodes, and an alias inside the
    value it names (a recursive structure, which no parameter can hold)."""

    def __init__(self, stream):
        super().__init__(stream)
        self._node_sizes: dict[int, int] = {}
        self._expanded = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            node = self.anchors.get(event.anchor)
            if node is not None:  # an undefined alias is PyYAML's own error
                if node.end_mark is None:  # still being composed: the alias is inside it
                    raise _AliasBomb(
                        problem=f"alias *{event.anchor} refers to a value that contains it",
                        problem_mark=event.start_mark,
                    )
                self._expanded += self._size(node)
                if self._expanded > MAX_ALIAS_EXPANSION:
                    raise _AliasBomb(
                        problem=f"aliases (*{event.anchor} and others) expand the document "
                        f"beyond {MAX_ALIAS_EXPANSION} values; write the values out",
                        problem_mark=event.start_mark,
                    )
        return super().compose_node(parent, index)

    def _size(self, node) -> int:
        """Nodes in ``node`` with every alias expanded (memoised: aliases share nodes)."""
        size = self._node_sizes.get(id(node))
        if size is None:
            size = 1
            if isinstance(node, yaml.SequenceNode):
                size += sum(self._size(child) for child in node.value)
            elif isinstance(node, yaml.MappingNode):
                size += sum(self._size(k) + self._size(v) for k, v in node.value)
            self._node_sizes[id(node)] = size
        return size


def _mapping_without_duplicates(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # '<<: *base' (construct_mapping merges it; later keys override it)
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {brief(key)}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep)


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates
)
