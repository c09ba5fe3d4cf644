"""`digest preview`: a real server on a free loopback port, driven by a real headless Chromium.

Each project is a temporary folder with its own config.toml, a copy of the
templates (the tests edit the copy, never the repository's), a database with
articles in it and, for the archive, issues built by `pipeline.build`.
"""

from __future__ import annotations

import http.client
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from digest import pipeline, storage
from digest.config import load_config
from digest.errors import ConfigError
from digest.models import Article
from digest.preview import start_preview
from digest.preview.draft import DraftWatcher, describe_problem
from digest.preview.message import DeliveryHooks, sample_subscribers
from digest.preview.server import list_archive, safe_file
from digest.storage import articles as article_store
from digest.storage import issues as issue_store
from digest.storage.issues import IssueRecord
from tests.browser import CHROMEDRIVER, CHROMIUM, CHROMIUM_FLAGS
from tests.conftest import ROOT, require

WAIT_SECONDS = 15  # an upper bound for a wait-until, never a delay
HOSTILE_TITLE = '<img src=x onerror="window.__pwned=1">Chips & <b>bold</b> claims'
NOW = datetime.now(timezone.utc).replace(microsecond=0)


# -- a project on disk ------------------------------------------------------------------------------------

def make_project(root: Path, *, title: str = "Preview Weekly", subscribers: str = "", with_draft: bool = True) -> Path:
    """config.toml + templates/ (a copy) + a database holding the draft's articles unless not `with_draft`."""
    shutil.copytree(ROOT / "templates", root / "templates")
    (root / "config.toml").write_text(textwrap.dedent(f"""\
        [digest]
        title = "{title}"
        lookback_hours = 24

        [storage]
        path = "var/preview.sqlite3"

        [render]
        templates_dir = "templates"
        output_dir = "out"

        [preview]
        poll_seconds = 0.1

        [delivery]
        mode = "outbox"
        outbox_dir = "var/outbox"
        """) + (subscribers or textwrap.dedent("""\
        [[subscribers]]
        email = "ada@example.com"
        first_name = "Ada"

        [[subscribers]]
        email = "grace@example.com"
        """)), encoding="utf-8")
    if with_draft:
        add_articles(root / "config.toml", draft_articles())
    return root / "config.toml"


def draft_articles() -> list[Article]:
    """The draft's articles: one event told by two outlets plus a syndicated copy, three other stories
    (one with hostile markup in its title and text)."""
    body = ("Nvidia shares fell 17% on Monday after DeepSeek said it trained its R1 model for $5.6 million. "
            "The Chinese lab released R1 under an MIT licence last week. Analysts at Bernstein questioned "
            "the cost figure. Microsoft and Meta defended their spending plans on earnings calls. "
            "The sell-off erased $593 billion of Nvidia's market value in one day.")
    retold = ("DeepSeek's R1 model, trained for a reported $5.6 million, sent Nvidia shares down 17% on Monday. "
              "Nvidia lost $593 billion of market value, the largest one-day loss in history. "
              "DeepSeek, a Chinese lab, published R1 under the MIT licence. Investors asked whether "
              "Microsoft and Meta need to spend so much on Nvidia chips.")
    return [
        Article(id="wire-1", url="https://wire.example.com/deepseek", title="DeepSeek rattles chip stocks",
                source="Wire", text=body, published=NOW - timedelta(hours=3), fetched_at=NOW),
        Article(id="copy-1", url="https://paper.example.com/deepseek", title="DeepSeek rattles chip stocks",
                source="Paper", text=body, published=NOW - timedelta(hours=2), fetched_at=NOW),
        Article(id="journal-1", url="https://journal.example.com/nvidia-deepseek",
                title="Nvidia loses $593 billion as DeepSeek R1 spooks investors", source="Journal", text=retold,
                published=NOW - timedelta(hours=1), fetched_at=NOW),
        Article(id="hostile-1", url="https://evil.example.com/x", title=HOSTILE_TITLE, source="Evil <Feed>",
                text="A football club in Lyon said <script>window.__pwned=2</script> it signed a striker. "
                     "The fee was 40 million euros. The player arrives in March. Fans queued outside the stadium.",
                published=NOW - timedelta(hours=4), fetched_at=NOW),
        Article(id="apple-1", url="https://apple.example.com/m5", title="Apple ships new laptops",
                source="Gadgets", text="Apple released new laptops on Tuesday. Prices start at $1,599. "
                "Battery life rose to 24 hours, Apple said. Reviewers praised the display.",
                published=NOW - timedelta(hours=5), fetched_at=NOW),
        Article(id="rust-1", url="https://dev.example.com/rust", title="Rust 2.0 roadmap published",
                source="Dev Weekly", text="The Rust project published a roadmap for its next edition. "
                "The plan drops 3 deprecated features. Maintainers expect a release in 2027. "
                "Contributors debated async traits at length.",
                published=NOW - timedelta(hours=6), fetched_at=NOW),
    ]


ARCHIVED = {
    1: ("Archived story: Airbus delivers its first hydrogen test plane",
        "Airbus delivered its first hydrogen test plane to a flight school in Toulouse. The aircraft flew 300 "
        "kilometres on its first trip. Engineers plan 40 more test flights this winter."),
    2: ("Archived story: Volcano closes Iceland's main airport",
        "A volcanic eruption near Grindavik closed Keflavik airport for two days. About 4,000 residents left "
        "their homes. Geologists expect more lava flows this month."),
}


def archived_article(days_ago: int) -> Article:
    when = NOW - timedelta(days=days_ago, hours=2)
    title, text = ARCHIVED[days_ago]
    return Article(id=f"old-{days_ago}", url=f"https://old.example.com/{days_ago}", title=title,
                   source="Archive Times", text=text, published=when, fetched_at=when)


def add_articles(config_path: Path, articles: list[Article]) -> None:
    conn = storage.connect(load_config(config_path).db_path)
    try:
        article_store.save_articles(conn, articles, now=NOW)
    finally:
        conn.close()


def build_archive(config_path: Path, days_ago: tuple[int, ...]) -> list[str]:
    """Build (and write to out/) one issue per `days_ago`, each with its own article; return their keys."""
    config = load_config(config_path)
    conn = storage.connect(config.db_path)
    keys = []
    try:
        for d in days_ago:
            article_store.save_articles(conn, [archived_article(d)], now=NOW)
            keys.append(pipeline.build(config, conn, now=NOW - timedelta(days=d)).rendered.issue.key)
    finally:
        conn.close()
    return keys


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A project shared by the read-only tests, with two built issues in its archive."""
    config_path = make_project(tmp_path_factory.mktemp("project"), with_draft=False)
    keys = build_archive(config_path, (2, 1))  # before the draft's articles exist, so they are not in these issues
    conn = storage.connect(load_config(config_path).db_path)
    issue_store.mark_issue_sent(conn, keys[0], sent_at=datetime(2030, 1, 2, 7, 0, tzinfo=timezone.utc))
    conn.close()
    add_articles(config_path, draft_articles())
    return config_path


@pytest.fixture(scope="module")
def server(project):
    srv = start_preview(project, host="127.0.0.1", port=0)  # with delivery: real headers, send-a-test
    srv.serve_in_thread()
    yield srv
    srv.close()


@pytest.fixture
def own_server(tmp_path):
    """A fresh project and server (without delivery's hooks) for a test that edits templates or config.toml."""
    srv = start_preview(make_project(tmp_path), host="127.0.0.1", port=0, hooks=DeliveryHooks())
    srv.serve_in_thread()
    yield srv
    srv.close()


# -- the browser ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def driver():
    """tests/browser.py's headless Chromium (Debian's chromedriver, never Selenium Manager), with the
    console log kept: the preview's pages must load without console errors."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = require(CHROMIUM)
    profile = tempfile.mkdtemp(prefix="preview-chromium-")
    for flag in (*CHROMIUM_FLAGS, "--window-size=1280,1000", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(executable_path=require(CHROMEDRIVER)), options=options)
    try:
        yield drv
    finally:
        drv.quit()
        shutil.rmtree(profile, ignore_errors=True)


def console_errors(drv) -> list[str]:
    """SEVERE console entries since the last call (reading the log empties it)."""
    return [e["message"] for e in drv.get_log("browser") if e["level"] == "SEVERE"]


def wait_for(drv, condition, message: str):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(drv, WAIT_SECONDS, poll_frequency=0.05).until(condition, message)


def frame_text(drv) -> str:
    """The visible text of the email inside the preview's iframe ('' until it has loaded)."""
    return drv.execute_script(
        "var f = document.getElementById('email-frame');"
        "return (f && f.contentDocument && f.contentDocument.body) ? f.contentDocument.body.innerText : '';")


def open_page(drv, url: str) -> None:
    # Leave the last page first: its live-reload stream may be retrying a server an earlier test closed.
    drv.get("about:blank")
    console_errors(drv)
    drv.get(url)
    wait_for(drv, lambda d: d.execute_script("return document.readyState") == "complete", f"{url} did not load")


def by_id(drv, element_id: str):
    from selenium.webdriver.common.by import By

    return drv.find_element(By.ID, element_id)


# -- views ------------------------------------------------------------------------------------------------

@pytest.mark.browser
def test_draft_email_shows_the_sample_subscribers_name_without_console_errors(server, driver):
    open_page(driver, server.url)
    wait_for(driver, lambda d: "Good morning" in frame_text(d), "the email did not show in the iframe")
    text = frame_text(driver)
    assert "Good morning, Ada." in text
    assert "DeepSeek" in text
    assert "[[digest:" not in driver.execute_script(
        "return document.getElementById('email-frame').contentDocument.documentElement.outerHTML")
    assert driver.current_url == server.url + "draft"
    assert console_errors(driver) == []


@pytest.mark.browser
def test_choosing_another_subscriber_fills_their_greeting(server, driver):
    open_page(driver, server.url + "draft?as=grace@example.com")
    wait_for(driver, lambda d: "Good morning" in frame_text(d), "the email did not show")
    assert "Good morning, readers." in frame_text(driver)
    assert by_id(driver, "subscriber").get_attribute("value") == "grace@example.com"


@pytest.mark.browser
def test_width_toggle_changes_the_rendered_email_width(server, driver):
    open_page(driver, server.url + "draft")
    wait_for(driver, lambda d: "Good morning" in frame_text(d), "the email did not show")
    widths = ("var f = document.getElementById('email-frame');"
              "return [f.getBoundingClientRect().width, f.contentWindow.innerWidth];")
    assert driver.execute_script(widths) == [800, 800]
    by_id(driver, "width-mobile").click()
    assert driver.execute_script(widths) == [375, 375]
    assert by_id(driver, "width-mobile").get_attribute("aria-pressed") == "true"
    # The choice survives a reload (live reload must not throw the editor back to desktop).
    driver.refresh()
    wait_for(driver, lambda d: d.execute_script(widths) == [375, 375], "the mobile width was not kept")
    by_id(driver, "width-desktop").click()
    assert driver.execute_script(widths) == [800, 800]
    assert console_errors(driver) == []


@pytest.mark.browser
def test_dark_mode_check_darkens_the_page_and_applies_the_emails_dark_styles(server, driver):
    open_page(driver, server.url + "draft")
    wait_for(driver, lambda d: "Good morning" in frame_text(d), "the email did not show")
    stage = "return getComputedStyle(document.getElementById('stage')).backgroundColor"
    email = ("var w = document.getElementById('email-frame').contentWindow;"
             "return [w.matchMedia('(prefers-color-scheme: dark)').matches,"
             "        w.getComputedStyle(w.document.body).backgroundColor]")
    assert driver.execute_script(stage) == "rgb(209, 213, 219)"
    is_dark, light_background = driver.execute_script(email)
    assert is_dark is False
    by_id(driver, "dark-mode").click()
    assert driver.execute_script(stage) == "rgb(18, 18, 18)"
    is_dark, dark_background = driver.execute_script(email)
    assert is_dark is True
    assert dark_background != light_background  # the template's prefers-color-scheme styles took effect
    by_id(driver, "dark-invert").click()
    assert "invert(1)" in driver.execute_script(
        "return getComputedStyle(document.getElementById('email-frame')).filter")
    by_id(driver, "dark-mode").click()
    by_id(driver, "dark-invert").click()
    assert driver.execute_script(stage) == "rgb(209, 213, 219)"
    assert driver.execute_script(email) == [False, light_background]


@pytest.mark.browser
def test_text_view_shows_the_plain_text_part_with_the_name_filled(server, driver):
    open_page(driver, server.url + "draft")
    by_id(driver, "view-text").click()
    text = by_id(driver, "text-part").text
    assert "Good morning, Ada." in text
    assert "DeepSeek" in text
    assert "<" not in text.split("Chips")[0][-40:] or HOSTILE_TITLE in text  # feed markup is text, not tags
    assert console_errors(driver) == []


@pytest.mark.browser
def test_source_view_shows_the_html_as_text(server, driver):
    open_page(driver, server.url + "draft/source")
    source = by_id(driver, "html-source").text
    assert source.lower().startswith("<!doctype html")
    assert "Good morning, Ada." in source
    # The feed's markup reaches the email escaped: the source shows the entities.
    assert "&lt;img src=x onerror=" in source
    assert "bytes" in driver.find_element("css selector", "main .note").text


@pytest.mark.browser
def test_headers_view_lists_the_headers_to_be_sent(server, driver):
    open_page(driver, server.url + "draft/headers")
    rows = dict(
        (r.find_element("tag name", "th").text, r.find_element("tag name", "td").text)
        for r in driver.find_elements("css selector", "#headers tr")
    )
    assert rows["To"] == "Ada <ada@example.com>"
    assert rows["From"] == "Tech Rundown <digest@example.com>"
    assert rows["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "https://" in rows["List-Unsubscribe"] or "http://" in rows["List-Unsubscribe"]
    assert rows["Subject"]


@pytest.mark.browser
def test_stories_view_shows_scores_sources_and_merged_articles(server, driver):
    open_page(driver, server.url + "draft/stories")
    stories = driver.find_elements("css selector", "article.story")
    assert len(stories) == 4  # six articles: one event told by Wire and Journal, and Paper's copy of Wire
    deepseek = stories[0]
    assert re.search(r"score \d+\.\d{3}", deepseek.find_element("tag name", "h2").text)
    sources = [td.text for td in deepseek.find_elements("css selector", "table.articles tbody td:first-child")]
    assert sorted(sources) == ["Journal", "Wire"]
    copies = [[td.text for td in tr.find_elements("tag name", "td")]
              for tr in deepseek.find_elements("css selector", "table.duplicates tbody tr")]
    assert copies == [["Paper", "DeepSeek rattles chip stocks", "wire-1", "copy-1"]]
    assert deepseek.find_elements("css selector", "table.points tbody tr")  # key points with their scores
    assert console_errors(driver) == []


@pytest.mark.browser
def test_feed_markup_is_shown_as_text_and_never_runs(server, driver):
    for view in ("draft", "draft/text", "draft/source", "draft/headers", "draft/stories"):
        open_page(driver, server.url + view)
        assert driver.execute_script("return window.__pwned === undefined"), view
        assert driver.find_elements("css selector", "main img[src=x]") == [], view
    open_page(driver, server.url + "draft/stories")
    assert HOSTILE_TITLE in driver.find_element("tag name", "main").text
    assert "Evil <Feed>" in driver.find_element("tag name", "main").text
    open_page(driver, server.url + "draft")
    wait_for(driver, lambda d: "Good morning" in frame_text(d), "the email did not show")
    assert driver.execute_script(
        "var d = document.getElementById('email-frame').contentDocument;"
        "return [d.querySelectorAll('img[src=x]').length, d.defaultView.__pwned === undefined]") == [0, True]
    assert HOSTILE_TITLE in frame_text(driver)


# -- archive ----------------------------------------------------------------------------------------------

@pytest.mark.browser
def test_archive_lists_built_issues_newest_first_and_opens_each(server, driver, project):
    older, newer = ((NOW - timedelta(days=d)).date().isoformat() for d in (2, 1))
    open_page(driver, server.url + "archive")
    keys = [r.get_attribute("data-key") for r in driver.find_elements("css selector", "#archive tbody tr")]
    assert keys == [newer, older]
    assert [td.text for td in driver.find_elements("css selector", "#archive td.issue-status")] == [
        "built", "sent 2030-01-02 07:00 UTC"]
    for key, days in zip(keys, (1, 2), strict=True):
        headline = ARCHIVED[days][0]
        open_page(driver, server.url + "archive")
        driver.find_element("css selector", f"#archive tr[data-key='{key}'] td:nth-child(2) a").click()
        wait_for(driver, lambda d: "Good morning" in frame_text(d), f"issue {key} did not open")
        assert "Good morning, Ada." in frame_text(driver)
        by_id(driver, "view-text").click()
        assert headline in by_id(driver, "text-part").text
        by_id(driver, "web-copy").click()
        assert headline in driver.find_element("tag name", "body").text
        assert driver.current_url == f"{server.url}out/{key}/index.html"
    assert console_errors(driver) == []


# -- live reload ------------------------------------------------------------------------------------------

def _greeting_template(config_path: Path) -> Path:
    """The copied template that writes the greeting (whatever partial it lives in)."""
    return next(p for p in sorted((config_path.parent / "templates").rglob("*.mjml.j2"))
                if "placeholders.greeting_name" in p.read_text(encoding="utf-8"))


@pytest.mark.browser
def test_template_edit_rebuilds_and_reloads_the_open_page(own_server, driver):
    config_path = own_server.watcher.config_path
    open_page(driver, own_server.url + "draft")
    wait_for(driver, lambda d: "Good morning" in frame_text(d), "the email did not show")
    driver.execute_script("window.__before_reload = true")
    template = _greeting_template(config_path)
    template.write_text(template.read_text(encoding="utf-8").replace("Good morning", "Good evening"), encoding="utf-8")
    wait_for(driver, lambda d: "Good evening, Ada." in frame_text(d), "the edit did not show without a manual reload")
    assert driver.execute_script("return window.__before_reload === undefined")  # the page itself reloaded
    assert console_errors(driver) == []


@pytest.mark.browser
def test_config_edit_rebuilds_and_reloads_the_open_page(own_server, driver):
    config_path = own_server.watcher.config_path
    open_page(driver, own_server.url + "draft/text")
    assert "PREVIEW WEEKLY" in by_id(driver, "text-part").text.upper()
    config_path.write_text(config_path.read_text(encoding="utf-8").replace("Preview Weekly", "Evening Edition"),
                           encoding="utf-8")
    # Read the text in one script call: the page reloads under us, so an element handle could go stale.
    wait_for(driver, lambda d: "EVENING EDITION" in d.execute_script(
        "return document.body ? document.body.innerText.toUpperCase() : ''"),
             "the config edit did not show")


@pytest.mark.browser
def test_template_error_shows_file_and_line_and_a_fix_recovers(own_server, driver):
    config_path = own_server.watcher.config_path
    open_page(driver, own_server.url + "draft")
    wait_for(driver, lambda d: "Good morning" in frame_text(d), "the email did not show")
    template = _greeting_template(config_path)
    good = template.read_text(encoding="utf-8")
    lines = good.splitlines(keepends=True)
    template.write_text("".join(lines[:2] + ["{% if %}\n"] + lines[2:]), encoding="utf-8")
    error = wait_for(driver, lambda d: d.find_elements("id", "build-error"), "the template error did not show")[0]
    relative = template.relative_to(config_path.parent).as_posix()
    assert by_id(driver, "error-location").text == f"{relative}, line 3"
    assert "{% if %}" in error.find_element("css selector", ".excerpt .hit").text
    assert "Good morning" in frame_text(driver)  # the last good draft stays visible under the error
    template.write_text(good, encoding="utf-8")
    wait_for(driver, lambda d: not d.find_elements("id", "build-error"), "the fix did not clear the error")
    assert own_server.watcher.snapshot.problem is None


def test_a_broken_config_shows_its_error_and_keeps_serving(own_server):
    config_path = own_server.watcher.config_path
    good = config_path.read_text(encoding="utf-8")
    config_path.write_text(good.replace("lookback_hours = 24", "lookback_hours = 0"), encoding="utf-8")
    snap = own_server.watcher.rebuild()
    assert snap.problem.kind == "config"
    assert "[digest].lookback_hours: must be at least 1, got 0" in snap.problem.message
    status, body = get(own_server, "/draft")
    assert status == 200
    assert "lookback_hours: must be at least 1, got 0" in body
    config_path.write_text(good, encoding="utf-8")
    assert own_server.watcher.rebuild().problem is None


# -- safety -----------------------------------------------------------------------------------------------

def get(srv, path: str, host: str | None = None) -> tuple[int, str]:
    """A raw GET: http.client sends the path exactly as given (no browser normalisation of ../)."""
    address, port = srv.server_address[:2]
    conn = http.client.HTTPConnection(address, port, timeout=10)
    try:
        conn.putrequest("GET", path, skip_host=True)
        conn.putheader("Host", host or f"{address}:{port}")
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", errors="replace")
    finally:
        conn.close()


def test_server_binds_loopback_by_default(project):
    srv = start_preview(project, port=0, hooks=DeliveryHooks())
    try:
        assert srv.server_address[0] == "127.0.0.1"
        assert srv.url.startswith("http://127.0.0.1:")
    finally:
        srv.close()


def test_a_busy_port_is_a_one_line_error(project):
    import socket

    from digest.errors import InputError

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(InputError) as caught:
            start_preview(project, port=port, hooks=DeliveryHooks())
    assert str(caught.value) == f"cannot listen on 127.0.0.1:{port}: Address already in use"


def test_path_traversal_never_leaves_the_output_folder(server, project):
    out = project.parent / "out"
    key = sorted(p.name for p in out.iterdir() if p.is_dir())[0]
    (out / "leak.html").symlink_to(project)  # a symlink to config.toml, outside out/
    (out / "root").symlink_to("/")
    secret = "poll_seconds"  # a line of config.toml
    assert get(server, f"/out/{key}/index.html")[0] == 200
    for path in (
        "/out/../config.toml", "/out/%2e%2e/config.toml", "/out/%2E%2E%2Fconfig.toml", "/out/..%2fconfig.toml",
        f"/out/{key}/../../config.toml", f"/out/{key}/%2e%2e/%2e%2e/config.toml", "/out//etc/passwd",
        "/out/%2fetc%2fpasswd", f"/out/{project}", "/out/leak.html", "/out/root/etc/passwd",
        "/out/..\\config.toml", "/out/%00", "/archive/..%2f..%2fconfig.toml", "/archive/%2e%2e/email.html",
        "/_preview/../server.py", "/../config.toml", "/%2e%2e/config.toml",
    ):
        status, body = get(server, path)
        assert status == 404, path
        assert secret not in body and "root:x:0" not in body, path


def test_safe_file_resolves_inside_the_root_only(tmp_path):
    root = tmp_path / "out"
    (root / "2025-01-29").mkdir(parents=True)
    (root / "2025-01-29" / "index.html").write_text("ok")
    (tmp_path / "secret.txt").write_text("no")
    (root / "inner").symlink_to(root / "2025-01-29")  # a symlink that stays inside is fine
    assert safe_file(root, "2025-01-29/") == (root / "2025-01-29" / "index.html").resolve()
    assert safe_file(root, "inner/index.html") == (root / "2025-01-29" / "index.html").resolve()
    for bad in ("../secret.txt", "%2e%2e/secret.txt", str(tmp_path / "secret.txt"), "2025-01-29/./index.html",
                "", "nope.html"):
        assert safe_file(root, bad) is None, bad


def test_a_request_naming_another_host_is_refused(server):
    status, body = get(server, "/draft", host="attacker.example:8025")
    assert status == 403
    assert "DeepSeek" not in body
    assert get(server, "/draft", host=f"localhost:{server.server_address[1]}")[0] == 200


def test_rebuild_button_builds_again_and_returns_to_the_page(server):
    token = re.search(r'name="token" value="([^"]+)"', get(server, "/draft/stories")[1]).group(1)
    before = server.watcher.snapshot.generation
    address, port = server.server_address[:2]
    conn = http.client.HTTPConnection(address, port, timeout=10)
    conn.request("POST", "/rebuild", body=f"token={token}&back=/draft/stories",
                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    response = conn.getresponse()
    response.read()
    conn.close()
    assert (response.status, response.getheader("Location")) == (303, "/draft/stories")
    assert server.watcher.snapshot.generation == before + 1


def test_forms_without_the_token_are_refused(server):
    address, port = server.server_address[:2]
    conn = http.client.HTTPConnection(address, port, timeout=10)
    conn.request("POST", "/rebuild", body="back=/draft", headers={"Content-Type": "application/x-www-form-urlencoded"})
    response = conn.getresponse()
    assert response.status == 403
    conn.close()


# -- send a test ------------------------------------------------------------------------------------------

@pytest.mark.browser
def test_send_a_test_writes_the_draft_to_the_outbox(server, driver, project):
    from selenium.webdriver.common.by import By

    outbox = project.parent / "var" / "outbox"
    open_page(driver, server.url + "draft")
    form = by_id(driver, "send-test")
    form.find_element(By.NAME, "address").send_keys("editor@example.com")
    form.find_element(By.TAG_NAME, "button").click()
    notice = wait_for(driver, lambda d: d.find_elements("id", "sent-notice"), "no notice after sending")[0]
    assert notice.text == "Test sent to editor@example.com."
    (message,) = [p.read_text(encoding="utf-8") for p in outbox.rglob("*.eml")]
    assert "To: editor@example.com" in message
    assert "Subject: [TEST] " in message
    assert console_errors(driver) == []


def test_send_a_test_to_a_bad_address_says_why_on_the_page(server):
    token = re.search(r'name="token" value="([^"]+)"', get(server, "/draft")[1]).group(1)
    address, port = server.server_address[:2]
    conn = http.client.HTTPConnection(address, port, timeout=10)
    conn.request("POST", "/draft/send-test", body=f"token={token}&address=not-an-address",
                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    response = conn.getresponse()
    response.read()
    conn.close()
    assert response.status == 303
    status, body = get(server, response.getheader("Location"))
    assert re.search(r'id="send-error">The test was not sent: .*not-an-address', body)


def test_send_test_form_is_hidden_without_delivery(own_server):
    status, body = get(own_server, "/draft")
    assert status == 200
    assert 'id="send-test"' not in body


# -- errors, archive listing, CLI -------------------------------------------------------------------------

def test_preview_section_is_validated(make_config):
    with pytest.raises(ConfigError) as caught:
        make_config(preview={"port": 0, "poll_seconds": 0, "sample_subscriber": "ada", "host": " "})
    assert str(caught.value).splitlines() == [
        "config.toml: [preview].host: must not be empty",
        "config.toml: [preview].port: must be between 1 and 65535, got 0",
        "config.toml: [preview].sample_subscriber: expected an email address, got 'ada'",
        "config.toml: [preview].poll_seconds: must be between 0.05 and 10, got 0.0",
    ]


def test_the_sample_subscriber_comes_first(make_config):
    config = make_config(preview={"sample_subscriber": "grace@example.com"},
                         subscribers=[{"email": "ada@example.com", "first_name": "Ada"},
                                      {"email": "grace@example.com", "first_name": "Grace"}])
    assert [s.first_name for s in sample_subscribers(config)] == ["Grace", "Ada"]
    assert [s.email for s in sample_subscribers(make_config())] == ["reader@example.com"]


def test_template_syntax_error_is_located_by_file_and_line(tmp_path):
    import jinja2

    (tmp_path / "t.mjml.j2").write_text("<mj-text>\n{{ a }\n</mj-text>\n")
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(tmp_path)))
    with pytest.raises(jinja2.TemplateSyntaxError) as caught:
        env.get_template("t.mjml.j2")
    problem = describe_problem(caught.value, [tmp_path.resolve()])
    assert (problem.kind, problem.file, problem.line) == ("template", f"{tmp_path.name}/t.mjml.j2", 2)
    assert problem.excerpt[1] == (2, "{{ a }")


def test_template_runtime_error_is_located_by_file_and_line(tmp_path):
    config_path = make_project(tmp_path)
    template = _greeting_template(config_path)
    lines = template.read_text(encoding="utf-8").splitlines(keepends=True)
    template.write_text("".join(lines[:1] + ["{{ no_such_name.attribute }}\n"] + lines[1:]), encoding="utf-8")
    problem = DraftWatcher(config_path).rebuild().problem
    assert problem.kind == "template"
    assert (problem.file, problem.line) == (template.relative_to(tmp_path).as_posix(), 2)
    assert "no_such_name" in problem.message


def test_a_save_made_during_a_rebuild_triggers_another_rebuild(tmp_path):
    config_path = make_project(tmp_path)
    template = _greeting_template(config_path)
    original = template.read_text(encoding="utf-8")
    calls = []

    def build_while_the_editor_saves(config, conn, *, now):
        calls.append(now)
        if len(calls) == 2:  # the rebuild for the first save: the editor saves again meanwhile
            template.write_text(original.replace("Good morning", "Second save"), encoding="utf-8")
        return pipeline.draft(config, conn, now=now)

    watcher = DraftWatcher(config_path, builder=build_while_the_editor_saves)
    watcher.start()
    try:
        template.write_text(original.replace("Good morning", "First save"), encoding="utf-8")
        snap = watcher.wait_for_change(1, timeout=WAIT_SECONDS)
        assert snap.generation == 2
        snap = watcher.wait_for_change(2, timeout=WAIT_SECONDS)
        assert snap.generation == 3
        assert "Second save, [[digest:greeting_name]]" in snap.rendered.email_html
    finally:
        watcher.stop()


def test_archive_listing_skips_folders_without_an_issue(tmp_path):
    (tmp_path / "2025-01-29").mkdir()
    (tmp_path / "2025-01-29" / "email.html").write_text("<p>x</p>")
    (tmp_path / "2025-01-29" / "digest.json").write_text('{"date": "2025-01-29", "headline": "H"}')
    (tmp_path / "2025-01-30").mkdir()
    (tmp_path / "2025-01-30" / "index.html").write_text("<p>y</p>")
    (tmp_path / "assets").mkdir()
    (tmp_path / "linked").symlink_to(tmp_path / "2025-01-29")
    gone = IssueRecord(key="2025-01-20", date=date(2025, 1, 20), status="sent", title="T", headline="Gone",
                       subtitle="", folder=tmp_path / "elsewhere", built_at=NOW, sent_at=NOW)
    listed = [(i.key, i.headline, i.files, i.status) for i in list_archive(tmp_path, {gone.key: gone})]
    assert listed == [("2025-01-30", "", ("index.html",), "built"),
                      ("2025-01-29", "H", ("email.html", "digest.json"), "built"),
                      ("2025-01-20", "Gone", (), "sent")]


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_cli_prints_the_url_and_serves_until_interrupted(project, stop_signal):
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "digest"), "--config", str(project), "preview", "--no-open", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=project.parent,
    )
    try:
        line = proc.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert match, line + proc.stderr.read() if proc.poll() is not None else line
        conn = http.client.HTTPConnection("127.0.0.1", int(match.group(1)), timeout=10)
        conn.request("GET", "/api/state")
        assert b'"ok": true' in conn.getresponse().read()
        conn.close()
    finally:
        proc.send_signal(stop_signal)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "Stopped." in out
