"""``difftest upload URL``: publish the local baseline for other jobs and developers."""

from __future__ import annotations

from pathlib import Path

from difftest.cli.error_handler import EXIT_OK
from difftest.storage.baseline import Baseline
from difftest.storage.remote import open_remote


def upload_command(url: str, src: Path) -> int:
    with Baseline.open_existing(src) as baseline:
        count = baseline.test_count()
    open_remote(url).upload(src)
    print(f"uploaded {src} ({count} records) to {url}")
    return EXIT_OK
