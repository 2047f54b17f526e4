"""The README's screenshots: every linked file exists and publishing copies only linked ones."""

from __future__ import annotations

from tests.browser.publish_screenshots import README, TARGET, linked_names


def test_linked_names_reads_markdown_image_links():
    text = "![a](docs/screenshots/compare.png) | ![b](docs/screenshots/emotions-train.png) x.png"
    assert linked_names(text) == {"compare.png", "emotions-train.png"}


def test_every_screenshot_the_readme_links_is_in_docs():
    names = linked_names(README.read_text(encoding="utf-8"))
    assert "compare.png" in names
    assert sorted(n for n in names if not (TARGET / n).is_file()) == []
