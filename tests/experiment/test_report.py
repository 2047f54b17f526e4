"""The HTML report: self-contained (plotly.js embedded once, nothing fetched), one chart per
figure, every document text and question escaped."""

from __future__ import annotations

import re

import pytest

from core.errors import UserError
from core.experiment.report import report_html
from core.experiment.run import write_report
from tests.experiment.sample import HOSTILE, sample_result


def test_report_holds_the_charts_and_is_self_contained():
    page = report_html(sample_result())
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    # four figures: answer hit, latency, memory, loss; each a plotly div with its own script
    assert page.count('class="plotly-graph-div"') == 4
    assert page.count("Plotly.newPlot") == 4
    assert len(re.findall(r"\* plotly\.js v\d", page)) == 1  # the library, embedded once
    assert not re.search(r"<script[^>]+src=", page)  # nothing loaded from anywhere
    assert not re.search(r"<link[^>]+href=", page)
    for title in ("Answer hit by mode", "Seconds per question", "Serving memory per setup",
                  "Fine-tuning loss per step"):
        assert title in page
    assert "rag beats base by 0.50" in page and "[0.45, 0.75]" in page


def test_user_text_is_escaped_everywhere():
    page = report_html(sample_result())
    assert HOSTILE not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    # plotly's config line, plotly.js and one per chart: no other script on the page
    assert page.count("<script") == page.count("</script>") == 6


def test_write_report_refuses_a_bad_path(tmp_path):
    with pytest.raises(UserError, match=r"\.html file"):
        write_report(sample_result(), tmp_path / "r.txt")
    with pytest.raises(UserError, match="folder not found"):
        write_report(sample_result(), tmp_path / "missing" / "r.html")
    path = write_report(sample_result(), tmp_path / "r.html")
    assert path.read_text().startswith("<!DOCTYPE html>")
