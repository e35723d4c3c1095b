"""The shape of the code base, enforced: layers that import only downward, no import
cycle between packages, settings read in one place, Dagster as wiring only.

The import graph is built from the source with `ast`, so it sees imports inside functions
too (they used to hide cycles)."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import pytest

from mallcrm.core.settings import PROJECT_ROOT

# Bottom to top. A package may import packages of lower layers only (or itself).
LAYERS: list[set[str]] = [
    {"mallcrm"},  # mallcrm.core: settings, warehouse, write lock, dbt runner, export contract
    {"semantic"},  # metric views and dbt docs as comments, for every copy BI tools read
    {"simulator", "privacy"},  # the demo mall; policy, tokens, masking, erasure, audit
    {"spark", "postgres"},  # Spark engine: local cluster, masking UDF, metastore; the local PostgreSQL server
    # dlt sources; models; contracts; audiences; PostgreSQL serving; experiment design
    {"ingestion", "ml", "quality", "activation", "serving", "experiments"},
    {"pipeline"},  # pipeline.steps: one function per pipeline step
    {"orchestration"},  # Dagster wiring
    {"bench", "dashboard"},  # benchmark harness; dashboards
    {"cli"},  # the `mallcrm` command line
]
LAYER_OF = {pkg: i for i, layer in enumerate(LAYERS) for pkg in layer}
PACKAGES = set(LAYER_OF)
# Imports of the project's own packages inside a function, each with the reason it cannot
# sit at the top of its module. Everything else imports at module level.
FUNCTION_LEVEL_ALLOWED = {
    # a bench stage process must not pay for Dagster's import unless it runs the Dagster stage
    ("bench/stages.py", "orchestration.modeling"),
    ("bench/stages.py", "orchestration.resources"),
}


def _node(module: str) -> str:
    """The package a module belongs to: its top-level package."""
    return module.split(".")[0]


def _sources() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (PROJECT_ROOT / pkg).rglob("*.py"))


def _imports(path: Path):
    """(imported module, line, inside a function?) for the project's own packages."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    in_function = {
        id(node)
        for fn in ast.walk(tree)
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef)
        for node in ast.walk(fn)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            if name.split(".")[0] in PACKAGES:
                yield name, node.lineno, id(node) in in_function


def import_graph() -> dict[str, dict[str, list[str]]]:
    """{importer: {imported: ["file:line", ...]}} between the project's top-level packages."""
    graph: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for path in _sources():
        rel = path.relative_to(PROJECT_ROOT)
        source = _node(".".join(rel.with_suffix("").parts))
        for name, line, _ in _imports(path):
            target = _node(name)
            if target != source:
                graph[source][target].append(f"{rel}:{line}")
    return graph


def _cycles(graph) -> list[list[str]]:
    found, state = [], {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph.get(node, {})):
            if state.get(nxt) == "open":
                found.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def test_every_package_has_a_layer():
    nodes = {_node(".".join(p.relative_to(PROJECT_ROOT).with_suffix("").parts)) for p in _sources()}
    assert nodes <= set(LAYER_OF), f"packages without a layer: {sorted(nodes - set(LAYER_OF))}"


def test_no_import_cycle_between_packages():
    assert _cycles(import_graph()) == []


def test_packages_import_only_lower_layers():
    upward = [
        f"{src} -> {dst} ({', '.join(where[:3])})"
        for src, targets in import_graph().items()
        for dst, where in targets.items()
        if LAYER_OF[dst] >= LAYER_OF[src]
    ]
    assert upward == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b": []}, "b": {"c": []}, "c": {"a": []}}) == [["a", "b", "c", "a"]]


def test_own_packages_are_imported_at_module_level():
    inside = [
        f"{path.relative_to(PROJECT_ROOT)}:{line} {name}"
        for path in _sources()
        for name, line, in_function in _imports(path)
        if in_function and (str(path.relative_to(PROJECT_ROOT)), name) not in FUNCTION_LEVEL_ALLOWED
    ]
    assert inside == []


def test_only_the_settings_module_reads_the_environment():
    settings_module = PROJECT_ROOT / "mallcrm" / "core" / "settings.py"
    readers = [
        f"{path.relative_to(PROJECT_ROOT)}:{n}"
        for path in _sources()
        if path != settings_module
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if re.search(r"\bos\.(environ|getenv|putenv)\b", line)
    ]
    assert readers == []


@pytest.mark.parametrize("path", sorted((PROJECT_ROOT / "orchestration").glob("*.py")), ids=lambda p: p.name)
def test_orchestration_is_wiring_only(path):
    """No dlt runs, no SQL and no model lists in orchestration/: it calls pipeline.steps."""
    text = path.read_text(encoding="utf-8")
    assert "dlt.run" not in text and "import dlt" not in text
    assert not re.search(r"\b(select|insert|delete|update)\b[^\n]*\b(from|into|set|where)\b", text, re.IGNORECASE)
    assert not re.search(r"\"(churn|clv|segmentation|basket_rules|recommendations)\"", text)
