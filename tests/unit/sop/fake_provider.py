"""A facts provider for the CLI tests (the real one lives in the web app): returns the example as a plain dict."""

from __future__ import annotations

from sop.example import example_inputs


def collect_inputs() -> dict:
    return example_inputs().model_dump(mode="json")


def broken() -> dict:
    raise RuntimeError("basis data tidak tersedia")
