"""The difftest options as pytest sees them: one group, flags and ini keys from the option table."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from difftest.config import (
    DEFAULT_DB,
    DEFAULT_STATIC_DB,
    OPTIONS,
    OPTIONS_BY_FLAG,
    Option,
    parse_value,
)
from difftest.errors import ConfigError


@dataclass(frozen=True)
class Settings:
    """The resolved options of one run (command line over ini over default)."""

    select: bool
    record: bool
    force: bool
    verbose: bool
    batch_size: int
    cache_size: int
    db_path: Path
    default_db: bool
    remote_url: str | None
    upload: bool
    #: Static import-graph mode: records without coverage (every block of the closure).
    static: bool = False

    @property
    def enabled(self) -> bool:
        return self.select or self.record


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("difftest", "difftest: run only the tests affected by changes")
    for option in OPTIONS:
        if option.kind == "flag":
            group.addoption(option.flag, action="store_true", default=False, help=option.help)
        else:
            # Stored raw (None when absent) so that an ini value can apply; parsed in resolve().
            group.addoption(
                option.flag, action="store", default=None, metavar=option.metavar, help=option.help
            )
        if option.ini is not None:
            parser.addini(option.ini, help=f"Default of {option.flag}: {option.help}", default=None)


#: The options pytest and installed plugins registered before the project's conftests could,
#: with their defaults (taken as the initial conftests load).
EARLY_OPTIONS = pytest.StashKey[dict[str, Any]]()


def registered_options(config: pytest.Config) -> dict[str, Any]:
    """The destinations of the options registered so far (by pytest and installed plugins),
    with their defaults (None where pytest does not know it)."""
    parser: Any = getattr(config, "_parser", None)
    groups = [getattr(parser, "_anonymous", None), *getattr(parser, "_groups", [])]
    return {
        str(getattr(option, "dest", "")): getattr(option, "default", None)
        for group in groups
        for option in getattr(group, "options", ())
    }


def wants_recording(namespace: argparse.Namespace) -> bool:
    """Whether these early-parsed arguments ask for a recording run."""
    if getattr(namespace, "diff_static", False):
        return not getattr(namespace, "diff_no_save", False)
    return bool(getattr(namespace, "diff_baseline", False))


def _raw(config: pytest.Config, option: Option) -> tuple[str | None, str]:
    """The option's text as given (command line first, then ini) and where it came from."""
    value: Any = config.getoption(option.dest, default=None)
    if value is not None:
        return str(value), option.flag
    if option.ini is not None:
        ini: Any = config.getini(option.ini)
        if ini is not None and ini != "" and ini != []:
            return str(ini), f"ini option {option.ini}"
    return None, option.flag


def _value(config: pytest.Config, flag: str) -> Any:
    option = OPTIONS_BY_FLAG[flag]
    if option.kind == "flag":
        return bool(config.getoption(option.dest, default=False))
    text, where = _raw(config, option)
    if text is None:
        return option.default
    try:
        return parse_value(option, text, where)
    except ConfigError as exc:
        raise pytest.UsageError(f"difftest: {exc}") from exc


def resolve(config: pytest.Config) -> Settings:
    """Read and check every difftest option; raises pytest.UsageError naming the allowed form."""
    select = _value(config, "--diff")
    record = _value(config, "--diff-baseline")
    static = _value(config, "--diff-static")
    no_save = _value(config, "--diff-no-save")
    force = _value(config, "--diff-force")
    upload = _value(config, "--diff-upload")
    remote = _value(config, "--diff-remote")
    if static and (select or record):
        raise pytest.UsageError(
            "difftest: --diff-static is a mode of its own: it selects, runs and saves in one "
            "command (use: pytest --diff-static; read-only: pytest --diff-static --diff-no-save)"
        )
    if no_save and not static:
        raise pytest.UsageError(
            "difftest: --diff-no-save applies to --diff-static (use: pytest --diff-static "
            "--diff-no-save; with recorded baselines, pytest --diff never saves)"
        )
    if static:
        select, record = True, not no_save
    if force and not record:
        raise pytest.UsageError(
            "difftest: --diff-force rebuilds the baseline and only applies with --diff-baseline "
            "(use: pytest --diff-baseline --diff-force, or pytest --diff-static --diff-force)"
        )
    if upload and not record:
        raise pytest.UsageError(
            "difftest: --diff-upload uploads a recorded baseline and needs --diff-baseline "
            "(use: pytest --diff-baseline --diff-upload --diff-remote URL)"
        )
    if upload and remote is None:
        raise pytest.UsageError(
            "difftest: --diff-upload needs a remote: pass --diff-remote URL or set "
            "diff_remote_url in the pytest ini options"
        )
    db_option = OPTIONS_BY_FLAG["--diff-db"]
    db_text, where = _raw(config, db_option)
    root = config.rootpath
    if db_text is None:
        db_path = root / (DEFAULT_STATIC_DB if static else DEFAULT_DB)
    else:
        db_text = str(_value(config, "--diff-db"))
        # Relative paths: from the ini file's directory for the ini value (pytest's rule for
        # paths in ini files), from the invocation directory for the command line.
        if where == db_option.flag:
            base = config.invocation_params.dir
        else:
            base = config.inipath.parent if config.inipath is not None else root
        db_path = (base / db_text).resolve() if not Path(db_text).is_absolute() else Path(db_text)
    return Settings(
        select=select,
        record=record,
        force=force,
        verbose=_value(config, "--diff-v"),
        batch_size=_value(config, "--diff-batch-size"),
        cache_size=_value(config, "--diff-cache-size"),
        db_path=db_path,
        default_db=db_text is None,
        remote_url=remote,
        upload=upload,
        static=static,
    )
