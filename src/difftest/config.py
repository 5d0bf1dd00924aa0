"""The one table of difftest options, and the parsers of their values.

Every front end reads its options from :data:`OPTIONS`: the pytest plugin turns each row into a
command-line flag (and an ini key where ``ini`` is set, so ``[tool.pytest.ini_options]`` in
pyproject.toml works); a value given on the command line wins over the ini file, which wins over
the default. Parsers raise :class:`~difftest.errors.ConfigError` naming the allowed form.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union
from urllib.parse import urlparse

from difftest.errors import ConfigError

OptionValue = Union[bool, int, str, None]

#: Where the baseline lives unless ``--diff-db`` / ``diff_db`` says otherwise (root-relative).
DEFAULT_DB = ".difftest/baseline.db"
#: The same, for ``--diff-static``: its records are coarser, so they are kept apart.
DEFAULT_STATIC_DB = ".difftest/static.db"
#: Remote URL schemes the storage stage can open.
REMOTE_SCHEMES = ("file", "s3")


@dataclass(frozen=True)
class Option:
    """One option: ``flag`` on the command line, ``ini`` in the pytest ini file (if any).

    ``kind`` is "flag" (a switch), "int" (a positive integer), "path" or "url".
    """

    flag: str
    kind: str
    default: OptionValue
    help: str
    ini: str | None = None
    metavar: str | None = None

    @property
    def dest(self) -> str:
        """The attribute name of the parsed value (``--diff-batch-size`` -> ``diff_batch_size``)."""
        return self.flag.lstrip("-").replace("-", "_")


OPTIONS: tuple[Option, ...] = (
    Option(
        "--diff",
        "flag",
        False,
        "Run only the tests affected by changes since the baseline was recorded; tests with no "
        "record run too. Nothing is recorded and no test record changes; only the baseline's local "
        "cache of file hashes is refreshed, so the next run reads fewer files. "
        "Default: off.",
    ),
    Option(
        "--diff-baseline",
        "flag",
        False,
        "Record the baseline: the first run (or an empty baseline) runs and records every test; "
        "later runs are incremental, running and re-recording only affected and new tests. "
        "Default: off.",
    ),
    Option(
        "--diff-force",
        "flag",
        False,
        "With --diff-baseline: drop every stored record and rebuild the baseline from a full "
        "run. Default: off.",
    ),
    Option(
        "--diff-v",
        "flag",
        False,
        "Explain the selection: the baseline used, each change found, and why every selected "
        "test runs. Default: off (one status line).",
    ),
    Option(
        "--diff-static",
        "flag",
        False,
        "Static import-graph mode, no recording run needed: select, run and save in one command, "
        "without coverage. A test depends on every block of every file in its import closure "
        "(static imports, conftests, modules it imported at run time), on the files and "
        "directories it read, and on the environment. The first run runs everything. Records "
        f"go to <rootdir>/{DEFAULT_STATIC_DB} unless --diff-db says otherwise. Default: off.",
    ),
    Option(
        "--diff-no-save",
        "flag",
        False,
        "With --diff-static: select and run, but leave the stored records unchanged "
        "(read-only, e.g. in CI). Default: off.",
    ),
    Option(
        "--diff-batch-size",
        "int",
        20,
        "Number of test records written to the baseline per database transaction while "
        "recording (coverage is collected in the same batches). Default: 20.",
        ini="diff_batch_size",
        metavar="N",
    ),
    Option(
        "--diff-cache-size",
        "int",
        100_000,
        "Maximum number of parsed-file fingerprints kept in memory while recording. "
        "Default: 100000.",
        ini="diff_cache_size",
        metavar="N",
    ),
    Option(
        "--diff-db",
        "path",
        None,
        f"Path of the baseline database. Default: <rootdir>/{DEFAULT_DB}.",
        ini="diff_db",
        metavar="PATH",
    ),
    Option(
        "--diff-remote",
        "url",
        None,
        "Remote baseline URL (s3://bucket/key.db or file:///path/key.db): downloaded to the "
        "local baseline path before selection; a download failure stops the run. Default: none.",
        ini="diff_remote_url",
        metavar="URL",
    ),
    Option(
        "--diff-upload",
        "flag",
        False,
        "With --diff-baseline and a remote: upload the baseline to the remote after it was "
        "written. Default: off.",
    ),
)

OPTIONS_BY_FLAG: dict[str, Option] = {o.flag: o for o in OPTIONS}


def parse_positive_int(text: str, where: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        value = 0
    if value <= 0:
        raise ConfigError(f"{where} must be a positive integer such as 20, got {text!r}")
    return value


def parse_url(text: str, where: str) -> str:
    text = text.strip()
    scheme = urlparse(text).scheme
    if scheme not in REMOTE_SCHEMES or not urlparse(text).path.strip("/"):
        raise ConfigError(
            f"{where} must be a URL of the form s3://bucket/path/baseline.db or "
            f"file:///path/baseline.db, got {text!r}"
        )
    return text


def parse_path(text: str, where: str) -> str:
    if not text.strip():
        raise ConfigError(f"{where} must be a file path such as .difftest/baseline.db, got ''")
    return text.strip()


def parse_value(option: Option, text: str, where: str) -> OptionValue:
    """Parse the text of an ini value or command-line argument of ``option``."""
    if option.kind == "int":
        return parse_positive_int(text, where)
    if option.kind == "url":
        return parse_url(text, where)
    if option.kind == "path":
        return parse_path(text, where)
    if option.kind == "flag":
        lowered = text.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off", ""):
            return False
        raise ConfigError(f"{where} must be true or false, got {text!r}")
    raise ConfigError(f"{where}: unknown option kind {option.kind!r}")
