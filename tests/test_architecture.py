"""The engine's import rules, checked by parsing every module under core/ (nothing is imported).

The graph has one node per module and one edge per import statement, wherever it stands
(module level, inside a function, under ``TYPE_CHECKING``): deferring an import hides a cycle
from Python, not from this test. Rules:

- No cycle between modules, and no cycle between packages (``core.rag``, ``core.evaluation``,
  ...; a top-level module such as ``core.loaders`` is its own node; command-line and presenter
  modules belong to their layer, not to their package).
- :data:`LAYERS`, top to bottom: a module imports only from its own layer or lower ones.
- Only ``core/st_cache.py`` may import streamlit: the engine must run headless (CLI, tests).
- Retrieval, evaluation and feedback (``core/rag``, ``core/evaluation``, ``core/feedback``)
  never import the fine-tuning or training packages (``core.finetune``, ``core.training``):
  they answer and compare through :mod:`core.answering` and :mod:`core.adapters`.
- No page scripts in a ``pages/`` folder beside ``app.py`` (they live in ``app_pages/``).
"""

from __future__ import annotations

import ast
from fnmatch import fnmatchcase
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "core"
NO_TRAINING = ("rag", "evaluation", "feedback")
TRAINING = ("core.finetune", "core.training")

#: Layers, top to bottom: (name, module patterns). ``core.x.*`` also matches ``core.x``; a
#: module takes the first layer that matches it. A module imports from its own layer or below.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("command line", ("core.cli", "core.__main__", "core.*.cli")),
    ("presenters", ("core.presenters.*",)),  # one per page: wording, tables, session keys
    ("streamlit cache", ("core.st_cache",)),
    ("applications", ("core.finetune.*", "core.emotions.*", "core.memory.*", "core.experiment.*",
                      "core.status", "core.launcher")),
    ("evaluation", ("core.evaluation.*",)),
    ("answering", ("core.answering",)),
    ("retrieval and training", ("core.rag.*", "core.training.*")),
    ("loaders", ("core.loaders",)),
    ("generators", ("core.generation", "core.remote_generation")),
    ("records", ("core.feedback.*", "core.qa", "core.jobs")),
    ("model plumbing", ("core.generator_protocol", "core.choice_scores",
                        "core.tokenizer_loader", "core.copy_decoding", "core.quantization",
                        "core.adapters", "core.devices", "core.model_sources", "core.memo",
                        "core.model_server")),
    ("foundation", ("core", "core.errors", "core.atomic", "core.names", "core.settings",
                    "core.access")),
]
#: Layers whose modules are nodes of their own in the package graph.
OWN_NODES = ("command line", "presenters")


def module_name(path: Path, root: Path = ROOT) -> str:
    """Example: core/rag/store.py -> core.rag.store; core/rag/__init__.py -> core.rag."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, root: Path = ROOT) -> set[str]:
    """Every module one file imports, wherever the statement stands; relative imports resolved.

    ``from PKG import NAME`` gives ``PKG.NAME`` when that is a module file, else ``PKG``.
    Example: in core/rag/cli.py, 'from . import store' -> core.rag.store and 'from core import
    errors' -> core.errors; 'from core.rag.config import DEFAULT_KB' -> core.rag.config.
    """
    own = module_name(path, root)
    package = own if path.name == "__init__.py" else own.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                is_module = any((root / Path(*sub.split("."))).with_suffix(s).exists()
                                for s in (".py", "")) if sub.startswith("core.") else False
                names.add(sub if is_module else module)
    return names


def core_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module -> the core modules it imports (itself left out)."""
    paths = {module_name(p, root): p for p in (root / "core").rglob("*.py")}
    return {name: {m for m in imported_modules(p, root) if m in paths and m != name}
            for name, p in paths.items()}


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """Strongly connected components with more than one node (Tarjan, iterative).

    Example: {a: {b}, b: {a}, c: {a}} -> [frozenset({a, b})].
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


def matches(module: str, pattern: str) -> bool:
    """Example: core.rag matches 'core.rag.*'; core.ragged does not."""
    return fnmatchcase(module, pattern) or (pattern.endswith(".*") and module == pattern[:-2])


def layer_of(module: str) -> int:
    """Index in :data:`LAYERS` (0 = top); a module no layer names fails the test."""
    for i, (_name, patterns) in enumerate(LAYERS):
        if any(matches(module, p) for p in patterns):
            return i
    raise AssertionError(f"{module} is in no layer of LAYERS: add it where it belongs")


def package_of(module: str) -> str:
    """Example: core.rag.store -> core.rag; core.loaders -> core.loaders; core.rag.cli -> itself
    (command-line and presenter modules belong to their layer, not to their package)."""
    if LAYERS[layer_of(module)][0] in OWN_NODES:
        return module
    parts = module.split(".")
    return ".".join(parts[:2])


def package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for module, imports in graph.items():
        out.setdefault(package_of(module), set()).update(
            package_of(m) for m in imports if package_of(m) != package_of(module))
    return out


GRAPH = core_graph()


def test_imported_modules_sees_nested_and_relative_imports(tmp_path):
    (tmp_path / "core" / "rag").mkdir(parents=True)
    for name in ("__init__.py", "errors.py", "rag/__init__.py", "rag/store.py"):
        (tmp_path / "core" / name).write_text("")
    src = tmp_path / "core" / "rag" / "m.py"
    src.write_text("import os\nfrom core import errors\nfrom core.rag import Thing\n"
                   "def f():\n    from streamlit import x\n    from . import store\n"
                   "    from ..errors import UserError\n")
    assert imported_modules(src, tmp_path) == {"os", "streamlit", "core.errors", "core.rag",
                                               "core.rag.store"}


def test_cycles_finds_components():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"f"}, "f": set()}
    assert cycles(graph) == [frozenset({"a", "b", "c"})]


def test_layer_patterns_match_packages_and_their_modules():
    assert layer_of("core.rag.cli") == 0 and layer_of("core.__main__") == 0
    assert LAYERS[layer_of("core.presenters.compare")][0] == "presenters"
    assert LAYERS[layer_of("core.presenters")][0] == "presenters"
    assert layer_of("core.rag") == layer_of("core.rag.store")
    assert package_of("core.rag.store") == "core.rag" and package_of("core.rag.cli") == \
        "core.rag.cli"


def test_no_module_cycles():
    """Deferred (function-level) imports count: a cycle they hide is still a cycle."""
    found = set(cycles(GRAPH))
    assert sorted(sorted(c) for c in found) == []


def test_no_package_cycles():
    assert sorted(sorted(c) for c in cycles(package_graph(GRAPH))) == []


def test_every_module_has_a_layer():
    for module in GRAPH:
        layer_of(module)


def test_imports_follow_the_layers():
    """A module imports only from its own layer or lower ones (:data:`LAYERS`)."""
    offenders = sorted(f"{m} ({LAYERS[layer_of(m)][0]}) imports {i} ({LAYERS[layer_of(i)][0]})"
                       for m, imports in GRAPH.items() for i in imports
                       if layer_of(i) < layer_of(m))
    assert offenders == []


def test_only_the_cache_module_imports_streamlit():
    offenders = sorted(str(p.relative_to(CORE)) for p in CORE.rglob("*.py")
                       if p.name != "st_cache.py"
                       and any(m.split(".")[0] == "streamlit" for m in imported_modules(p)))
    assert offenders == []


def imports_training(module: str) -> bool:
    """Example: core.finetune.config -> True; core.training_copy -> False (another module)."""
    return any(module == t or module.startswith(t + ".") for t in TRAINING)


def test_imports_training_matches_packages_only():
    assert imports_training("core.finetune") and imports_training("core.training.lora")
    assert not imports_training("core.training_copy") and not imports_training("core.adapters")


@pytest.mark.parametrize("package", NO_TRAINING)
def test_package_does_not_import_training(package):
    offenders = sorted(f"{p.relative_to(CORE)}: {m}" for p in (CORE / package).rglob("*.py")
                       for m in imported_modules(p) if imports_training(m))
    assert offenders == []


def test_no_page_scripts_in_a_folder_named_pages():
    """Streamlit takes ``pages/*.py`` beside ``app.py`` for file-based pages until a session
    has run ``st.navigation``: a deep link as a fresh server's first request then shows those
    file names (helpers included) in the sidebar. Page scripts live in ``app_pages/``."""
    folder = CORE.parent / "pages"
    assert sorted(p.name for p in folder.glob("*.py")) == []
    assert (CORE.parent / "app_pages" / "compare.py").exists()


def documented_layers(text: str) -> list[str]:
    """Layer names in ARCHITECTURE.md's numbered block. Example: '1  command line   core/..' ->
    ['command line']."""
    import re

    return [m.group(1) for m in re.finditer(r"^\d+\s+([a-z][a-z ]*?)(?:\s{2,}|$)", text, re.M)]


def test_architecture_md_lists_the_layers_in_order():
    doc = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    assert documented_layers(doc) == [name for name, _patterns in LAYERS]
