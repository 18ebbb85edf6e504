"""Normalization cost on hostile 1 MB inputs: every spam, markup and headcount regex must stay linear.

Run: `.venv/bin/python bench/bench_normalize.py [--size 1000000]`. Each input is put in every text field
of one event and normalized whole (normalize_event, caches cleared), so a pattern that rescans its input
from every position shows up as seconds instead of milliseconds. The contract cuts `message` to 20,000
characters and quarantines longer identity fields before normalization runs; this bench skips the contract
on purpose, to measure the normalizers themselves.

Results (2 shared cores, other work running; `--size 1000000`, 15 fields of 1 MB each per event):
every shape takes 3.4-24 s per event, i.e. 0.2-1.6 s per megabyte of field text, and doubling the size
doubles the time (200 KB: 0.6-3.0 s per event). is_gibberish alone on 1 MB: 0.8 s. Before the fix its
`\\S+@\\S+` was quadratic: 20 KB 1.2-1.8 s, 80 KB 18.6 s, so 1 MB extrapolates to ~50 min.
In the pipeline the contract cuts `message` to 20,000 characters and quarantines lines over 1 MiB, so
one event normalizes in well under 0.1 s and a 5 MB line is quarantined unparsed.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime

from assets.ingest import normalize
from assets.ingest.contract import InboundEvent, Source

# Shapes that made a backtracking pattern quadratic, one token or many: a long run of one character, a run
# with the character a pattern waits for only at its end, and repeated starts of tags, links and addresses.
SHAPES: dict[str, Callable[[int], str]] = {
    "one_token": lambda size: "a" * size,
    "one_token_then_at": lambda size: "a" * (size - 2) + "@b",
    "many_at_signs": lambda size: "a@" * (size // 2),
    "dotted_labels": lambda size: "a." * (size // 2),
    "hyphenated": lambda size: "a-" * (size // 2),
    "open_tags": lambda size: "<a " * (size // 3),
    "one_open_tag": lambda size: "<a " + "x" * (size - 3),
    "punctuation_run": lambda size: "." * (size - 1) + "x",
    "event_handler": lambda size: "onmouse" + "a" * (size - 7),
    "escaped_markup": lambda size: "%3C&lt;" * (size // 7),
    "words": lambda size: ("pricing for fifty seats please " * (size // 31 + 1))[:size],
    "urls": lambda size: ("https://x.io/a bit.ly/b " * (size // 24 + 1))[:size],
}

TEXT_FIELDS = (
    "email",
    "first_name",
    "last_name",
    "full_name",
    "company",
    "website",
    "job_title",
    "phone",
    "country",
    "employees",
    "message",
    "landing_page",
    "ip",
    "user_agent",
    "honeypot",
)


def hostile_event(text: str) -> InboundEvent:
    # model_construct skips validation (and with it the contract's length limits) on purpose.
    return InboundEvent.model_construct(
        event_id="bench",
        source=Source.web_form,
        received_at=datetime(2024, 5, 1, tzinfo=UTC),
        utm=None,
        partner=None,
        consent=None,
        extra={},
        **dict.fromkeys(TEXT_FIELDS, text),
    )


def clear_caches() -> None:
    for function in vars(normalize).values():
        if hasattr(function, "cache_clear"):
            function.cache_clear()


def measure(size: int) -> dict[str, float]:
    seconds = {}
    for name, shape in SHAPES.items():
        event = hostile_event(shape(size))
        clear_caches()
        started = time.perf_counter()
        normalize.normalize_event(event)
        seconds[name] = round(time.perf_counter() - started, 3)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000, help="characters per input")
    args = parser.parse_args()
    seconds = measure(args.size)
    print(
        json.dumps({"size": args.size, "seconds_per_event": seconds, "max": max(seconds.values())}, indent=2)
    )


if __name__ == "__main__":
    main()
