"""The experiment's HTML report opened in Chromium from a file, offline: every plotly chart
renders (plotly.js is embedded in the page; the browser context refuses every network request)
and user text shows as text, not markup. The report is written from a saved result dict, so no
model runs."""

from __future__ import annotations

import pytest

from core.experiment.run import write_report
from tests.browser.conftest import screenshot
from tests.experiment.sample import HOSTILE, sample_result

pytestmark = pytest.mark.browser


def test_report_renders_its_charts_offline(browser, tmp_path):
    path = write_report(sample_result(), tmp_path / "report.html")
    context = browser.new_context(viewport={"width": 1200, "height": 900}, offline=True)
    requests: list[str] = []
    context.route("**/*", lambda route: (requests.append(route.request.url), route.abort())
                  if not route.request.url.startswith("file://") else route.continue_())
    dialogs: list[str] = []
    pg = context.new_page()
    pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        pg.goto(path.as_uri())
        pg.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length === 4",
                             timeout=30_000)
        assert pg.evaluate("() => typeof window.Plotly") == "object"
        # each chart drew its axes and bars (SVG), not an empty div
        assert pg.locator(".js-plotly-plot .main-svg").count() >= 4
        assert pg.locator(".js-plotly-plot g.point, .js-plotly-plot g.trace").count() > 0
        titles = pg.locator(".js-plotly-plot .gtitle").all_text_contents()
        assert any("Answer hit by mode" in t for t in titles), titles
        assert "RAG beats fine-tuning" in pg.locator(".verdict").inner_text()
        body = pg.locator("body").inner_text()
        assert "<script>alert('x')</script>" in body  # shown as text
        assert pg.locator("img").count() == 0 and dialogs == []
        assert requests == []  # nothing was fetched from the network
        screenshot(pg, "experiment-report")
    finally:
        context.close()
    assert HOSTILE in sample_result()["questions"]["items"][0]["question"]
