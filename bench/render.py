"""Render benchmark: one 10-story issue, rendered once and personalized by substitution,
against re-rendering the whole issue for every subscriber.

    .venv/bin/python bench/render.py [--subscribers 200] [--repeat 30]

Prints one table (milliseconds, one run of each on this machine).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from digest.config import DigestSection, RenderSection  # noqa: E402
from digest.render import BUILTIN_TEMPLATES, compile_mjml, fill_placeholders, render_issue  # noqa: E402
from tests.issue_factory import hostile_issue  # noqa: E402


def ms(seconds: float) -> str:
    return f"{seconds * 1000:9.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()

    issue = hostile_issue(stories=10, quick_hits=5)
    digest, settings = DigestSection(), RenderSection()

    def render():
        return render_issue(issue, digest=digest, settings=settings, templates_dir=BUILTIN_TEMPLATES)

    t0 = time.perf_counter()
    rendered = render()  # cold: templates compiled on first use
    cold = time.perf_counter() - t0

    warm = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        render()
        warm.append(time.perf_counter() - t0)

    compile_times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        compile_mjml(rendered.mjml)
        compile_times.append(time.perf_counter() - t0)

    people = [{"greeting_name": f"Reader{i}", "unsubscribe_url": f"https://lists.example.com/u/{i:08x}",
               "preferences_url": f"https://lists.example.com/p/{i:08x}"} for i in range(args.subscribers)]

    t0 = time.perf_counter()
    for values in people:
        fill_placeholders(rendered.email_html, values, is_html=True)
        fill_placeholders(rendered.text, values, is_html=False)
    substitution = time.perf_counter() - t0

    t0 = time.perf_counter()
    for _ in people:
        render()
    rerender = time.perf_counter() - t0

    n = args.subscribers
    size = len(rendered.email_html.encode("utf-8"))
    print(f"10-story issue + 5 quick hits: email.html {size:,} bytes (Gmail clips at 102,000), "
          f"text {len(rendered.text.encode('utf-8')):,} bytes")
    print()
    print(f"{'what':58} {'ms':>9}")
    print("-" * 68)
    print(f"{'render_issue, first call (templates compiled)':58} {ms(cold)}")
    print(f"{f'render_issue, warm, median of {args.repeat}':58} {ms(statistics.median(warm))}")
    print(f"{f'  of which mjml2html compile, median of {args.repeat}':58} {ms(statistics.median(compile_times))}")
    print(f"{'ours: personalize 1 subscriber (substitution, HTML+text)':58} {ms(substitution / n)}")
    print(f"{'peer: re-render the issue for 1 subscriber':58} {ms(rerender / n)}")
    print(f"{f'ours: {n} subscribers, render once + substitution':58} {ms(statistics.median(warm) + substitution)}")
    print(f"{f'peer: {n} subscribers, one render each':58} {ms(rerender)}")


if __name__ == "__main__":
    main()
