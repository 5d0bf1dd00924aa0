"""``difftest download URL``: fetch a shared baseline (skipped when the local copy is current)."""

from __future__ import annotations

from pathlib import Path

from difftest.cli.error_handler import EXIT_OK
from difftest.errors import RemoteError
from difftest.storage.remote import CURRENT, DOWNLOADED, open_remote


def download_command(url: str, dest: Path, *, missing_ok: bool) -> int:
    status = open_remote(url).fetch(dest)
    if status == DOWNLOADED:
        print(f"downloaded {url} to {dest}")
    elif status == CURRENT:
        print(f"{dest} is up to date: {url} has not changed since it was downloaded")
    elif missing_ok:
        print(f"no baseline at {url} yet; {dest} left as it was")
    else:
        raise RemoteError(
            f"no baseline at {url}. Upload one first (`pytest --diff-baseline`, then "
            f"`difftest upload {url}`), check the URL, or pass --missing-ok if an absent "
            "baseline is expected."
        )
    return EXIT_OK
