"""Modules outside ``leadflow.batch`` use only its public names.

The batch engine's private helpers (a leading underscore) may change shape at any time; the predictive and
analytics layers read the engine through its documented functions (``matched_pairs``, ``rules_table``,
``attach`` ...). An ``ast`` walk of ``src/leadflow`` flags, outside ``leadflow/batch``:

* ``from leadflow.batch... import _name`` (and relative imports that resolve there), and imports of a
  private module (``leadflow.batch._x``);
* ``alias._name`` (or ``alias.sub._name``) where ``alias`` was bound by an import from ``leadflow.batch``
  (``from leadflow.batch import expressions as bx``, ``import leadflow.batch.source as s``,
  ``import leadflow.batch.source`` then ``leadflow.batch.source._x``). Dunders (``__file__``) are public.
"""

from __future__ import annotations

import ast
from pathlib import Path

import leadflow

PACKAGE = Path(leadflow.__file__).resolve().parent
BATCH = "leadflow.batch"


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _in_batch(dotted: str) -> bool:
    return dotted == BATCH or dotted.startswith(BATCH + ".")


def _private_part(dotted: str) -> str | None:
    """The first private component of ``dotted`` below ``leadflow.batch``, if any."""
    if not _in_batch(dotted):
        return None
    return next((p for p in dotted[len(BATCH):].split(".") if p and _private(p)), None)


def _module_name(path: Path, root: Path) -> str:
    rel = path.relative_to(root.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _resolve(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _dotted(node: ast.expr) -> tuple[str, list[str]] | None:
    """``a.b.c`` as ("a", ["b", "c"]); None when the chain does not start at a name."""
    attrs: list[str] = []
    while isinstance(node, ast.Attribute):
        attrs.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return node.id, attrs[::-1]


def violations_in(source: str, module: str, *, is_package: bool = False, where: str = "") -> list[str]:
    """Private uses of ``leadflow.batch`` in one module's source (``module``: its dotted name)."""
    tree = ast.parse(source)
    where = where or module
    found: list[str] = []
    bound: dict[str, str] = {}  # local name -> the dotted name it stands for
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if _private_part(a.name):
                    found.append(f"{where}:{node.lineno}: import {a.name}")
                if a.asname:
                    bound[a.asname] = a.name
                else:
                    top = a.name.split(".")[0]
                    bound[top] = top
        elif isinstance(node, ast.ImportFrom):
            origin = _resolve(node, module, is_package)
            for a in node.names:
                full = f"{origin}.{a.name}"
                if _private_part(full):
                    found.append(f"{where}:{node.lineno}: from {origin} import {a.name}")
                bound[a.asname or a.name] = full
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            chain = _dotted(node)
            if chain is None or chain[0] not in bound:
                continue
            full = ".".join([bound[chain[0]], *chain[1]])
            part = _private_part(full)
            # report each chain once, at its outermost private attribute
            if part is not None and chain[1][-1] == part:
                found.append(f"{where}:{node.lineno}: {ast.unparse(node)}")
    return found


def _imports_batch(tree: ast.AST, module: str, is_package: bool) -> bool:
    for n in ast.walk(tree):
        if isinstance(n, ast.Import) and any(_in_batch(a.name) for a in n.names):
            return True
        if isinstance(n, ast.ImportFrom) and _in_batch(_resolve(n, module, is_package)):
            return True
    return False


def private_batch_uses(root: Path = PACKAGE) -> tuple[list[str], int]:
    """(violations, number of modules outside ``leadflow/batch`` that import from it)."""
    found: list[str] = []
    importers = 0
    for path in sorted(root.rglob("*.py")):
        if (root / "batch") in path.parents:
            continue
        module, is_package = _module_name(path, root), path.name == "__init__.py"
        text = path.read_text(encoding="utf-8")
        importers += _imports_batch(ast.parse(text), module, is_package)
        found += violations_in(text, module, is_package=is_package, where=str(path.relative_to(root.parent)))
    return found, importers


def test_no_module_outside_batch_uses_a_private_batch_name():
    found, importers = private_batch_uses()
    # the walk did see the engine's users (predictive, analytics, services ...): not a vacuous pass
    assert importers >= 5
    assert found == [], "private leadflow.batch names used outside the package:\n" + "\n".join(found)


BAD = '''
from leadflow.batch.source import _classify, open_store
from leadflow.batch import expressions as bx, source
from leadflow.batch._internal import thing
from ..batch.expressions import _needs
import leadflow.batch.source
import leadflow.batch.expressions as ex

bx._rules_table([])
source._attach(None, "", "")
leadflow.batch.source._detach(None, "a")
ex._test
ok = (bx.matched_pairs, bx.__file__, source.attach, open_store)
'''


def test_the_check_catches_every_kind_of_private_use():
    found = violations_in(BAD, "leadflow.predictive.example")
    lines = sorted(int(f.split(":")[1]) for f in found)
    # line numbers of BAD (line 1 is the empty first line): both private imports, each private attribute
    assert lines == [2, 4, 5, 9, 10, 11, 12], found
    assert any("_classify" in f for f in found)
    assert not any("matched_pairs" in f or "__file__" in f or "open_store" in f for f in found)


def test_public_uses_and_other_packages_pass():
    good = "from leadflow.store import _private_ok\nfrom leadflow.batch.source import Store\nStore.materialize\n"
    assert violations_in(good, "leadflow.predictive.example") == []
