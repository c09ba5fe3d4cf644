"""The built email in a real headless Chromium: one column on a phone, 600 px on a desktop, no overflow.

Screenshots land in tests/artifacts/ (email-375.png, email-1024.png, archive-375.png)
for a person to look at.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.config import DigestSection, RenderSection, SponsorSection
from digest.render import BUILTIN_TEMPLATES, ArchiveEntry, render_archive, render_issue, write_archive, write_issue
from tests.browser import browser  # noqa: F401  (the fixture)
from tests.issue_factory import hostile_issue

pytestmark = pytest.mark.browser

SPONSOR = SponsorSection(enabled=True, name="Acme Labs", url="https://acme.example/",
                         text="Acme builds evaluation suites for reasoning models. Try it free for a month.")


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("out")
    settings = RenderSection(sponsor=SPONSOR)
    rendered = render_issue(hostile_issue(), digest=DigestSection(), settings=settings,
                            templates_dir=BUILTIN_TEMPLATES)
    folder = write_issue(rendered, out)
    page = render_archive([ArchiveEntry("2025-01-29", rendered.issue.date, rendered.issue.headline,
                                        rendered.issue.subtitle)],
                          digest=DigestSection(), settings=settings, templates_dir=BUILTIN_TEMPLATES)
    write_archive(page, out)
    return folder


@pytest.mark.parametrize("width", [375, 1024])
def test_email_fits_the_viewport_without_horizontal_scrolling(browser, built, width):  # noqa: F811
    browser.open(built / "email.html", width)
    scroll_width, inner_width = browser.widths()
    assert inner_width == width
    assert scroll_width <= inner_width
    shot = browser.screenshot(f"email-{width}.png")
    assert shot.stat().st_size > 10_000


def test_column_is_600_px_on_a_desktop_and_full_width_on_a_phone(browser, built):  # noqa: F811
    column = "return document.querySelector('.dg-card').getBoundingClientRect().width;"
    browser.open(built / "email.html", 1024)
    assert browser.js(column) == 600
    browser.open(built / "email.html", 375)
    assert browser.js(column) == 375


def test_no_element_sticks_out_on_a_phone(browser, built):  # noqa: F811
    browser.open(built / "email.html", 375)
    wide = browser.js("""
        return Array.from(document.querySelectorAll('body *'))
          .filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5)
          .map(e => e.tagName + '.' + e.className);
    """)
    assert wide == []


def test_preheader_is_not_visible_and_the_greeting_is(browser, built):  # noqa: F811
    browser.open(built / "index.html", 1024)
    assert browser.js("return document.querySelector('.dg-preheader').getBoundingClientRect().height;") == 0
    assert "Good morning, readers." in browser.js("return document.body.innerText;")
    assert browser.js("return document.documentElement.lang;") == "en"


def test_archive_list_page_fits_a_phone(browser, built):  # noqa: F811
    browser.open(built.parent / "index.html", 375)
    scroll_width, inner_width = browser.widths()
    assert scroll_width <= inner_width
    assert "Story 1: chips, models and money" in browser.js("return document.body.innerText;")
    browser.screenshot("archive-375.png")


def test_dark_mode_turns_the_card_dark_and_the_text_light(browser, built):  # noqa: F811
    browser.color_scheme("dark")
    try:
        browser.open(built / "email.html", 375)
        card = browser.js("return getComputedStyle(document.querySelector('.dg-card')).backgroundColor;")
        text = browser.js("return getComputedStyle(document.querySelector('td.dg-text div')).color;")
        assert (card, text) == ("rgb(31, 41, 55)", "rgb(229, 231, 235)")
        browser.screenshot("email-375-dark.png")
    finally:
        browser.color_scheme("light")
