"""Walking the Dash component tree a page returns (charts and cards sit inside blocks)."""

from __future__ import annotations

from collections.abc import Iterator


def walk(components) -> Iterator:
    """Every component under `components` (a list or one component), depth first."""
    stack = list(components) if isinstance(components, list | tuple) else [components]
    stack.reverse()
    while stack:
        node = stack.pop()
        yield node
        children = getattr(node, "children", None)
        if isinstance(children, list | tuple):
            stack.extend(reversed(children))
        elif children is not None and not isinstance(children, str | int | float):
            stack.append(children)


def graphs(components) -> dict:
    """{graph id: figure} of the page's charts, in page order."""
    return {c.id: c.figure for c in walk(components) if str(getattr(c, "id", "")).startswith("graph-")}


def kpis(components) -> dict[str, str]:
    """{kpi-<name>: shown value} of the page's cards."""
    return {
        c.id: c.children
        for c in walk(components)
        if str(getattr(c, "id", "")).startswith("kpi-") and not c.id.endswith("-change")
    }


def blocks(components) -> list:
    """The page's blocks: each chart, table or row of cards with its `data-sources`."""
    return [c for c in walk(components) if "block" in str(getattr(c, "className", "")).split()]


def notes(block) -> dict[str, str]:
    """{filter kind: note text} of the "not filtered by" notes of one block."""
    return {
        getattr(c, "data-filter"): c.children for c in walk(block) if getattr(c, "className", None) == "filter-note"
    }
