"""Streaming, hardened XML reading shared by the Disqus and WordPress parsers.

``defusedxml.ElementTree.iterparse`` refuses entity declarations (billion laughs) and external
references (XXE) while parsing incrementally. Each wanted element is handed over when its end
tag arrives and is then detached from its parent, so memory stays bounded by the largest single
element, not by the file: a 500 MB export reads in a few MB.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as safe_et
from defusedxml.common import (
    DefusedXmlException,
    DTDForbidden,
    EntitiesForbidden,
    ExternalReferenceForbidden,
)

from afterword.errors import ImportFailed
from afterword.importers.fields import local_name

Progress = Callable[[int], None]

_REFUSALS: dict[type[DefusedXmlException], str] = {
    EntitiesForbidden: "it declares XML entities (refused: entity expansion attack)",
    ExternalReferenceForbidden: "it references an external entity (refused: XXE attack)",
    DTDForbidden: "it has a DTD (refused)",
}


def iter_elements(
    path: Path, wanted: frozenset[str], progress: Progress | None
) -> Iterator[Element]:
    """Yield every element whose local name is in ``wanted``, complete, in document order.

    Errors become one-line ``ImportFailed`` with line and column; the caller's transaction
    then rolls back, so a truncated file imports nothing.
    """
    try:
        with path.open("rb") as handle:
            yield from _walk(handle, wanted, progress)
    except ParseError as exc:
        line, column = getattr(exc, "position", (0, 0))
        message = str(exc).split(":", 1)[0]
        raise ImportFailed(
            f"{path}: not well-formed XML at line {line}, column {column + 1}: {message}"
        ) from None
    except DefusedXmlException as exc:
        raise ImportFailed(f"{path}: cannot import: {_refusal(exc)}") from None
    except OSError as exc:
        raise ImportFailed(f"{path}: cannot read: {exc.strerror or exc}") from None


def _refusal(exc: DefusedXmlException) -> str:
    """Name the attack: an entity with a system or public id is an external one (XXE)."""
    if getattr(exc, "sysid", None) or getattr(exc, "pubid", None):
        return _REFUSALS[ExternalReferenceForbidden]
    return _REFUSALS.get(type(exc), f"unsafe XML ({exc})")


def _walk(handle: Any, wanted: frozenset[str], progress: Progress | None) -> Iterator[Element]:
    stack: list[Element] = []
    depth_in_wanted = 0
    for event, elem in safe_et.iterparse(handle, events=("start", "end")):
        if event == "start":
            stack.append(elem)
            if local_name(elem.tag) in wanted:
                depth_in_wanted += 1
            continue
        stack.pop()
        if local_name(elem.tag) not in wanted:
            continue
        depth_in_wanted -= 1
        if depth_in_wanted:
            continue  # nested inside another wanted element: handed over with it
        yield elem
        if stack:
            stack[-1].remove(elem)
        elem.clear()
        if progress is not None:
            progress(handle.tell())


def child_text(elem: Element, name: str) -> str:
    """Text of the first direct child with this local name ("" if absent or empty)."""
    for child in elem:
        if local_name(child.tag) == name:
            return child.text or ""
    return ""


def child(elem: Element, name: str) -> Element | None:
    for sub in elem:
        if local_name(sub.tag) == name:
            return sub
    return None


def attr(elem: Element | None, name: str) -> str:
    """An attribute by local name, whatever namespace prefix the export used."""
    if elem is None:
        return ""
    for key, value in elem.attrib.items():
        if local_name(key) == name:
            return value
    return ""
