"""A headless Chromium for tests, driven by Selenium with Debian's chromedriver.

Reusable by any test that needs a real browser: `from tests.browser import browser`
(the module-scoped fixture) or `start_chromium(profile_dir)`. Nothing is ever
downloaded: the driver is Debian's /usr/bin/chromedriver (Selenium Manager is
never asked), the profile is a fresh folder, and background networking is off.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, require

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARTIFACTS = ROOT / "tests" / "artifacts"  # screenshots kept for a person to look at (gitignored)
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--hide-scrollbars",
    "--disable-default-apps", "--disable-extensions", "--mute-audio",
)


def start_chromium(profile_dir: Path):
    """Start headless Chromium with a fresh profile in `profile_dir`; the caller quits it."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = require(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile_dir}")
    options.add_argument("--window-size=1024,900")
    service = Service(executable_path=require(CHROMEDRIVER))
    return webdriver.Chrome(service=service, options=options)


class Browser:
    """One Chromium; pages are shown at an exact CSS viewport width (a phone or a desktop)."""

    def __init__(self, driver) -> None:
        self.driver = driver

    def open(self, target: str | Path, width: int, height: int = 900) -> None:
        """Load a file or URL at a viewport `width` px wide (mobile emulation below 600 px)."""
        self.resize(width, height)
        url = target.as_uri() if isinstance(target, Path) else target
        self.driver.get(url)

    def resize(self, width: int, height: int) -> None:
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600,
        })

    def color_scheme(self, scheme: str) -> None:
        """Emulate the reader's system theme: "light" or "dark" (prefers-color-scheme)."""
        self.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {
            "features": [{"name": "prefers-color-scheme", "value": scheme}]})

    def js(self, script: str, *args):
        return self.driver.execute_script(script, *args)

    def widths(self) -> tuple[int, int]:
        """(document scrollWidth, window innerWidth): the page overflows when the first is larger."""
        return tuple(self.js("return [document.documentElement.scrollWidth, window.innerWidth];"))

    def screenshot(self, name: str, full_page: bool = True) -> Path:
        """Save a PNG under tests/artifacts/ (the whole page height when `full_page`)."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / name
        if full_page:
            width = self.js("return window.innerWidth;")
            height = min(int(self.js("return document.documentElement.scrollHeight;")), 12000)
            self.resize(width, height)
        self.driver.save_screenshot(str(path))
        return path


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> Iterator[Browser]:
    """A headless Chromium shared by the tests of one module."""
    driver = start_chromium(tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield Browser(driver)
    finally:
        driver.quit()
