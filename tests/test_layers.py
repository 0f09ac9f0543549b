"""The package's layers import only downward: core -> text -> render -> data -> models -> train -> infer,
with cli on top (docs/ARCHITECTURE.md). Read from the source with ``ast``, lazy imports inside
functions included."""
from __future__ import annotations

import ast
from pathlib import Path

import aksar

LAYERS = ("core", "text", "render", "data", "models", "train", "infer", "cli")
PACKAGE = Path(aksar.__file__).parent


def _aksar_imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
    return [(line, m) for line, m in found if m.split(".")[0] == "aksar"]


def test_every_layer_imports_only_downward():
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).parts
        if len(parts) < 2 or parts[0] not in LAYERS:
            continue  # aksar/__init__.py, __main__.py and plugins sit above every layer
        here = LAYERS.index(parts[0])
        for line, module in _aksar_imports(path):
            target = module.split(".")[1] if "." in module else None
            if target in LAYERS and LAYERS.index(target) > here:
                upward.append(f"{path.relative_to(PACKAGE)}:{line} imports {module}")
    assert not upward, "imports against the layer order:\n" + "\n".join(upward)


def test_the_check_sees_lazy_imports(tmp_path):
    """The scan finds an import inside a function, where layering slips are usually made."""
    src = tmp_path / "m.py"
    src.write_text("def f():\n    from aksar.infer.zoo import resolve_model\n    import aksar.cli\n")
    assert _aksar_imports(src) == [(2, "aksar.infer.zoo"), (3, "aksar.cli")]
