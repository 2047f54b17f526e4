"""One presenter per page: what a page says and shows besides its widgets.

Each module is named after its page in ``app_pages/`` (``compare``, ``knowledge``,
``finetune``, ``evaluate``, ``emotions``, ``feedback``, ``memory``, ``home``) and holds that
page's wording, table rows, session-state key helpers and formatting, as plain Python (no
Streamlit), so a page reads like a recipe (widgets -> presenter or engine call -> render) and
its wording is testable. Computation stays in the feature packages (``core.rag``,
``core.finetune``, ...) and so do the bodies of the pages' background jobs
(:data:`core.jobs.KINDS`); nothing there imports a presenter.
"""
