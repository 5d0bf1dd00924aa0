"""``difftest merge OUTPUT INPUT...``: combine the baselines of parallel jobs into one."""

from __future__ import annotations

from collections.abc import Sequence

from difftest.cli.error_handler import EXIT_OK
from difftest.storage.merge import merge


def merge_command(output: str, inputs: Sequence[str]) -> int:
    result = merge(output, inputs)
    for name in result.inputs:
        print(f"read {name}")
    superseded = f", {result.superseded} older duplicates dropped" if result.superseded else ""
    print(
        f"merged {len(result.inputs)} baseline{'s' * (len(result.inputs) != 1)} into {output}: "
        f"{result.records} records{superseded}, {result.edges} run-time import edges"
    )
    return EXIT_OK
