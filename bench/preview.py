"""Preview benchmark: how fast a saved template shows in the open page, against restarting the preview.

    .venv/bin/python bench/preview.py [--edits 10] [--requests 50] [--browser]

A temporary project is made from the repository's config.toml, templates/ (a
copy, which the benchmark edits) and seeds/, ingested offline. Ours: the
watcher thread notices the save and rebuilds in-process. Peer: what a
file watcher that restarts the preview (entr, watchexec, nodemon) pays, a new
Python process that imports digest and builds the draft. With --browser, the
full loop is also timed in headless Chromium: save -> page reloaded showing the edit.
Prints one table (milliseconds, medians, one run on this machine).
"""

from __future__ import annotations

import argparse
import http.client
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from digest import pipeline, storage  # noqa: E402
from digest.config import load_config  # noqa: E402
from digest.preview import DraftWatcher, start_preview  # noqa: E402
from digest.preview.message import DeliveryHooks  # noqa: E402

RESTART_SCRIPT = """
import sys
from digest import pipeline, storage
from digest.config import load_config
config = load_config(sys.argv[1])
conn = storage.connect(config.db_path)
pipeline.draft(config, conn)
"""


def ms(seconds: float) -> str:
    return f"{seconds * 1000:9.1f}"


def make_project(root: Path) -> Path:
    shutil.copytree(ROOT / "templates", root / "templates")
    shutil.copytree(ROOT / "seeds", root / "seeds")
    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    text = text.replace('templates_dir = ""', 'templates_dir = "templates"', 1)
    (root / "config.toml").write_text(text, encoding="utf-8")
    config = load_config(root / "config.toml")
    conn = storage.connect(config.db_path)
    pipeline.ingest(config, conn)
    conn.close()
    return root / "config.toml"


def greeting_template(root: Path) -> Path:
    return next(p for p in sorted((root / "templates").rglob("*.mjml.j2"))
                if "placeholders.greeting_name" in p.read_text(encoding="utf-8"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=10)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--browser", action="store_true", help="also time save -> reloaded page in Chromium")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="bench-preview-"))
    try:
        config_path = make_project(root)
        template = greeting_template(root)
        original = template.read_text(encoding="utf-8")
        rows: list[tuple[str, str]] = []

        watcher = DraftWatcher(config_path)
        t0 = time.perf_counter()
        watcher.rebuild()
        rows.append(("first build (cold: stages and templates loaded)", ms(time.perf_counter() - t0)))
        rebuilds = []
        for _ in range(args.edits):
            t0 = time.perf_counter()
            watcher.rebuild()
            rebuilds.append(time.perf_counter() - t0)
        rows.append(("ours: in-process rebuild (config + draft)", ms(statistics.median(rebuilds))))
        scans = []
        for _ in range(args.edits):
            t0 = time.perf_counter()
            count = len(watcher.watched_files())
            scans.append(time.perf_counter() - t0)
        rows.append((f"one poll of {count} watched files (every poll_seconds)", ms(statistics.median(scans))))

        server = start_preview(config_path, port=0, hooks=DeliveryHooks())
        server.serve_in_thread()
        try:
            saves = []
            poll = server.watcher.snapshot.config.preview.poll_seconds
            pause = random.Random(1)  # saves land at every phase of the poll, like an editor's
            for i in range(args.edits):
                time.sleep(pause.uniform(poll, 2 * poll))
                before = server.watcher.snapshot.generation
                template.write_text(original.replace("Good morning", f"Good morning {i}"), encoding="utf-8")
                t0 = time.perf_counter()
                server.watcher.wait_for_change(before, timeout=30)
                saves.append(time.perf_counter() - t0)
            rows.append((f"ours: save -> rebuilt (watcher, poll_seconds={poll:g})", ms(statistics.median(saves))))

            host, port = server.server_address[:2]
            for path in ("/draft", "/draft/email.html", "/draft/stories"):
                times = []
                conn = http.client.HTTPConnection(host, port, timeout=10)
                for _ in range(args.requests):
                    t0 = time.perf_counter()
                    conn.request("GET", path)
                    conn.getresponse().read()
                    times.append(time.perf_counter() - t0)
                conn.close()
                rows.append((f"GET {path} (keep-alive)", ms(statistics.median(times))))
            if args.browser:
                rows.append(("ours: save -> page reloaded with the edit (Chromium)",
                             ms(browser_loop(server, template, original, args.edits))))
        finally:
            server.close()
            template.write_text(original, encoding="utf-8")

        restarts = []
        for _ in range(max(3, args.edits // 3)):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", RESTART_SCRIPT, str(config_path)], check=True, cwd=root)
            restarts.append(time.perf_counter() - t0)
        rows.append(("peer: restart (new process imports digest, builds draft)", ms(statistics.median(restarts))))
    finally:
        shutil.rmtree(root, ignore_errors=True)

    width = max(len(r[0]) for r in rows)
    print(f"{'what':<{width}}  {'ms':>9}")
    for label, value in rows:
        print(f"{label:<{width}}  {value}")


def browser_loop(server, template: Path, original: str, edits: int) -> float:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    profile = tempfile.mkdtemp(prefix="bench-chromium-")
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    frame_text = ("var f = document.getElementById('email-frame');"
                  "return (f && f.contentDocument && f.contentDocument.body) ? f.contentDocument.body.innerText : '';")
    times = []
    try:
        driver.get(server.url + "draft")
        pause = random.Random(2)
        poll = server.watcher.snapshot.config.preview.poll_seconds
        for i in range(edits):
            time.sleep(pause.uniform(poll, 2 * poll))
            marker = f"Good evening {i},"
            template.write_text(original.replace("Good morning", f"Good evening {i}"), encoding="utf-8")
            t0 = time.perf_counter()
            WebDriverWait(driver, 30, poll_frequency=0.01).until(
                lambda d, m=marker: m in d.execute_script(frame_text))
            times.append(time.perf_counter() - t0)
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
    return statistics.median(times)


if __name__ == "__main__":
    main()
