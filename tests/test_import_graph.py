"""No import circle inside ``spacy_dice`` (issue 18): no module imports one that imports it back.

The graph is read from the source with ``ast`` (nothing is imported): one node per module of the
package, a package being its ``__init__.py`` (``spacy_dice.pipeline``), and an edge ``a -> b`` for
every ``import`` statement of ``a`` that names ``b``, wherever the statement stands: at module level
or inside a function or method (a function-level import is a circle that only hides until the
function is called). Relative and absolute imports are resolved alike.

What an import statement names:

* ``import spacy_dice.x.y`` (or ``import spacy_dice.x.y as z``): ``spacy_dice.x.y``;
* ``from P import name``: the submodule ``P.name`` when ``P`` is a package that has a submodule
  ``name`` (``from . import biluo``, ``from .losses import dice``), otherwise ``P`` itself:
  ``name`` is then an attribute that ``P``'s module (for a package: its ``__init__``) must have
  defined, so ``P`` must have run;
* ``from P import *``: ``P``.

The parent packages that Python imports on the way (``spacy_dice`` and ``spacy_dice.x`` for
``import spacy_dice.x.y``) are not edges: they run before the module itself, whatever it imports,
so a package ``__init__`` that imports its submodules while a submodule imports a sibling
(``pipeline/__init__ -> ner -> biluo``) is no circle. An import of the package ``__init__`` by
name is an edge like any other: ``ner`` doing ``from spacy_dice.pipeline import X`` (``X`` re-exported
by ``pipeline/__init__``) while ``pipeline/__init__`` imports ``ner`` IS a circle (one of the two
finds the other half-initialised, depending on which is imported first).

Imports under ``if TYPE_CHECKING:`` never run and are left out. ``importlib.import_module`` with a
computed name is not seen. A circle is a strongly connected component of more than one module; the
test names one concrete cycle of each.
"""
from __future__ import annotations

import ast
import importlib.util
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Set

#: Found without importing the package (an import circle may make the import itself fail).
PACKAGE_DIR = Path(importlib.util.find_spec("spacy_dice").origin).resolve().parent


def module_files(package_dir: Path = PACKAGE_DIR) -> Dict[str, Path]:
    """Dotted module name -> source file, for every module of the package."""
    modules = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = (package_dir.name,) + path.relative_to(package_dir).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _is_package(name: str, modules: Dict[str, Path]) -> bool:
    return modules[name].name == "__init__.py"


def _runtime_imports(tree: ast.AST) -> Iterator[ast.stmt]:
    """Every Import / ImportFrom node, at any depth, except those under ``if TYPE_CHECKING:``."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from (n for child in node.orelse for n in _runtime_imports_of(child))
            continue
        yield from _runtime_imports_of(node)


def _runtime_imports_of(node: ast.AST) -> Iterator[ast.stmt]:
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        yield node
    else:
        yield from _runtime_imports(node)


def _resolve_from(module: str, node: ast.ImportFrom, modules: Dict[str, Path]) -> Optional[str]:
    """The absolute name of ``P`` in ``from P import ...`` as written in ``module``."""
    if node.level == 0:
        return node.module
    package = module if _is_package(module, modules) else module.rpartition(".")[0]
    parts = package.split(".")
    if node.level > 1:
        parts = parts[: len(parts) - (node.level - 1)]
    base = ".".join(parts)
    return f"{base}.{node.module}" if node.module else base


def imports_of(module: str, modules: Dict[str, Path]) -> Set[str]:
    """The modules of the package that ``module`` names in its import statements."""
    tree = ast.parse(modules[module].read_text(encoding="utf8"), filename=str(modules[module]))
    targets: Set[str] = set()
    for node in _runtime_imports(tree):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
            continue
        source = _resolve_from(module, node, modules)
        if source is None:
            continue
        for alias in node.names:
            submodule = f"{source}.{alias.name}"
            if alias.name != "*" and submodule in modules and _is_package(source, modules):
                targets.add(submodule)
            else:
                targets.add(source)
    return {t for t in targets if t in modules and t != module}


def import_graph(modules: Optional[Dict[str, Path]] = None) -> Dict[str, Set[str]]:
    modules = module_files() if modules is None else modules
    return {name: imports_of(name, modules) for name in modules}


def strongly_connected_components(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """Tarjan's algorithm (iterative); components in no particular order, members sorted."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    components: List[List[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
    return components


def a_cycle(graph: Dict[str, Set[str]], component: List[str]) -> List[str]:
    """One cycle through the first module of ``component`` (shortest, by breadth-first search)."""
    members = set(component)
    start = component[0]
    previous: Dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(graph[node] & members):
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return path[::-1] + [start]
                if child not in previous:
                    previous[child] = node
                    following.append(child)
        frontier = following
    raise AssertionError(f"{component} is not strongly connected")


def circles(graph: Dict[str, Set[str]]) -> List[str]:
    return [
        " -> ".join(a_cycle(graph, component))
        for component in strongly_connected_components(graph)
        if len(component) > 1
    ]


def test_spacy_dice_has_no_import_circle():
    graph = import_graph()
    assert len(graph) > 40 and "spacy_dice.pipeline.biluo" in graph
    found = circles(graph)
    assert not found, "import circles in spacy_dice:\n" + "\n".join(found)


def test_biluo_imports_nothing_of_the_decoder():
    graph = import_graph()
    assert "spacy_dice.pipeline.biluo" in graph["spacy_dice.pipeline.decoder"]
    assert graph["spacy_dice.pipeline.biluo"] == set()


def _write_package(tmp_path: Path, files: Dict[str, str]) -> Dict[str, Path]:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf8")
    return module_files(tmp_path / "pkg")


def test_the_checker_finds_function_level_and_package_circles(tmp_path):
    modules = _write_package(tmp_path, {
        "pkg/__init__.py": "from . import sub\n",
        "pkg/sub/__init__.py": "from .a import A\nfrom .b import B\n",
        # a -> b at module level, b -> a inside a function: a circle
        "pkg/sub/a.py": "from .b import helper\nA = 1\n",
        "pkg/sub/b.py": "def helper():\n    from .a import A\n    return A\nB = 2\n",
        # c imports a name re-exported by its own package __init__, which imports c: a circle
        "pkg/other/__init__.py": "from .c import C\nVALUE = 1\n",
        "pkg/other/c.py": "from pkg.other import VALUE\nC = VALUE\n",
        # d imports a sibling submodule through the package, and e its package's submodule: fine
        "pkg/fine/__init__.py": "from .d import D\n",
        "pkg/fine/d.py": "from pkg.fine import e\nfrom . import e as e2\nD = e.E\n",
        "pkg/fine/e.py": "import pkg.sub.a\nfrom typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from pkg.fine.d import D\nE = 3\n",
    })
    graph = import_graph(modules)
    assert graph["pkg.fine.d"] == {"pkg.fine.e"}
    assert graph["pkg.fine.e"] == {"pkg.sub.a"}
    assert graph["pkg.sub"] == {"pkg.sub.a", "pkg.sub.b"}
    found = circles(graph)
    assert sorted(found) == [
        "pkg.other -> pkg.other.c -> pkg.other",
        "pkg.sub.a -> pkg.sub.b -> pkg.sub.a",
    ]
