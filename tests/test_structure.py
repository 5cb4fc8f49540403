"""The package's shape: imports go one way, down the layers, and no module is huge.

Every ``import`` of a tunesmith module is read with ``ast`` from the source, those inside
functions (lazy imports) included, since a lazy import is a dependency all the same.
"""
from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "tunesmith"
MAX_LINES = 600

LAYERS = [
    {"errors", "atomic", "gm"},
    {"score"},
    {"harmony"},                  # chord symbols: read and written by io, used by all above
    {"io"},
    {"tokenizer"},
    {"data"},
    {"model"},
    {"model_folder"},             # a model folder holds the model and its tokenizer
    {"train", "sample", "evaluate", "prepare"},
    {"render"},
    {"drafts", "pipeline", "batch", "lyrics"},   # lyrics drafts songs through the pipeline
    {"studio", "cli", "__main__", ""},           # "" = tunesmith/__init__.py, the public API
]
"""Lowest first. A module may import its own layer and the layers below it, never above.
The first level under ``tunesmith`` (a subpackage or a top-level module) names the part."""

KNOWN_UPWARD: set[tuple[str, str]] = set()
"""(importer, imported) pairs that break the layering today, to be removed: none."""

KNOWN_CYCLES: set[tuple[str, str]] = set()
"""Pairs of modules that import each other, to be removed as they are fixed."""


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """The tunesmith modules ``path`` imports, anywhere in the file."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            # `from pkg import name` imports pkg.name when that is a module
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                       for alias in node.names]
        else:
            continue
        found.update(t for t in targets if t == "tunesmith" or t.startswith("tunesmith."))
    return found


def _part(module: str) -> str:
    """The first level under tunesmith: 'io' for tunesmith.io.midi, '' for tunesmith."""
    return module.split(".")[1] if "." in module else ""


def _layer(module: str) -> int:
    part = _part(module)
    for i, layer in enumerate(LAYERS):
        if part in layer:
            return i
    raise AssertionError(f"{module}: part {part!r} is in no layer of LAYERS; add it")


def _edges() -> set[tuple[str, str]]:
    modules = _modules()
    return {(name, target) for name, path in modules.items()
            for target in _imports(path, modules) if target != name}


def test_the_import_reader_sees_lazy_and_relative_imports():
    edges = _edges()
    assert ("tunesmith.io.midi", "tunesmith.io.smf") in edges          # from .smf import
    assert ("tunesmith.io.midi", "tunesmith.score") in edges           # from ..score import
    assert ("tunesmith.cli.tokenize", "tunesmith.tokenizer") in edges  # inside run()


def test_every_part_has_a_layer():
    for name in _modules():
        _layer(name)


def test_no_module_imports_a_higher_layer():
    upward = sorted((a, b) for a, b in _edges()
                    if _layer(b) > _layer(a) and (a, b) not in KNOWN_UPWARD)
    assert upward == [], "\n".join(f"{a} imports {b} (layer {_layer(a)} -> {_layer(b)})"
                                   for a, b in upward)


def test_no_two_modules_import_each_other():
    """A package's __init__ may import its own submodules (re-exports, registration)."""
    edges = _edges()
    cycles = sorted((a, b) for a, b in edges if a < b and (b, a) in edges
                    and not (b.startswith(a + ".") or a.startswith(b + "."))
                    and (a, b) not in KNOWN_CYCLES)
    assert cycles == []


def test_the_known_lists_hold_only_what_is_still_true():
    """Fixed pairs must leave the known lists, so the test tightens as they are fixed."""
    edges = _edges()
    assert {pair for pair in KNOWN_CYCLES if pair in edges and pair[::-1] in edges} == KNOWN_CYCLES
    assert {pair for pair in KNOWN_UPWARD if pair in edges} == KNOWN_UPWARD


def test_no_module_is_over_600_lines():
    long = {name: n for name, path in _modules().items()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}
