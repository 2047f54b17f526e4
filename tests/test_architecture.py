"""The engine's import rules, checked by parsing every module under core/ (nothing is imported).

- Only ``core/st_cache.py`` may import streamlit: the engine must run headless (CLI, tests).
- Retrieval, evaluation and feedback (``core/rag``, ``core/evaluation``, ``core/feedback``)
  never import the fine-tuning or training packages (``core.finetune``, ``core.training``):
  they answer and compare through :mod:`core.answering` and :mod:`core.adapters`.
- No page scripts in a ``pages/`` folder beside ``app.py`` (they live in ``app_pages/``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[1] / "core"
NO_TRAINING = ("rag", "evaluation", "feedback")
TRAINING = ("core.finetune", "core.training")


def imported_modules(path: Path) -> set[str]:
    """Top-level and nested imports of one file. Example: 'from core.rag import x' -> core.rag."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_imported_modules_sees_nested_imports(tmp_path):
    src = tmp_path / "m.py"
    src.write_text("import os\ndef f():\n    from streamlit import x\n    import core.rag.store\n")
    assert imported_modules(src) == {"os", "streamlit", "core.rag.store"}


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
