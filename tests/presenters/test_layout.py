"""Where page logic lives: one presenter per page in core/presenters, none in the engine.

Parsed, not imported (as in tests/test_architecture.py).
"""

from __future__ import annotations

from pathlib import Path

from tests.test_architecture import CORE, imported_modules

PAGES = CORE.parent / "app_pages"
OLD_NAMES = {"view.py", "workflow.py", "form.py", "compare_view.py"}


def test_every_presenter_is_named_after_a_page():
    pages = {p.stem for p in PAGES.glob("*.py") if not p.name.startswith("_")}
    presenters = {p.stem for p in (CORE / "presenters").glob("*.py") if p.stem != "__init__"}
    assert presenters <= pages, presenters - pages


def test_no_page_logic_module_is_left_in_the_engine_packages():
    left = sorted(str(p.relative_to(CORE)) for p in CORE.rglob("*.py") if p.name in OLD_NAMES)
    assert left == []


def test_the_engine_never_imports_a_presenter():
    """Presenters sit above the feature packages: a page imports both, an engine neither."""
    offenders = sorted(f"{p.relative_to(CORE)}: {m}" for p in CORE.rglob("*.py")
                       if "presenters" not in p.relative_to(CORE).parts
                       for m in imported_modules(Path(p))
                       if m == "core.presenters" or m.startswith("core.presenters."))
    assert offenders == []
