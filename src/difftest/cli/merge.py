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
    if result.completed:
        n = result.completed
        print(f"{n} test file{'s' * (n != 1)} recorded in part by each input, in full between them")
    if result.incomplete:
        n = result.incomplete
        print(
            f"{n} test file{'s' * (n != 1)} with tests no input ran to their end: `pytest --diff` "
            f"collects {'them' if n != 1 else 'it'} and runs those tests"
        )
    return EXIT_OK
