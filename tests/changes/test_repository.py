"""The work tree a project lies in: its top, and the commit checked out, read from git's files
as ``git rev-parse HEAD`` gives it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from difftest.changes.repository import head_commit


def _repository(path: Path, git: Callable[..., str]) -> Path:
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / "app").mkdir()
    (path / "app" / "mod.py").write_text("x = 1\n")
    git(path, "add", "-A")
    git(path, "commit", "-qm", "one")
    return path


def test_the_commit_is_that_of_head_from_the_top_or_a_directory_below_it(
    tmp_path: Path, git: Callable[..., str]
) -> None:
    repo = _repository(tmp_path / "repo", git)
    head = git(repo, "rev-parse", "HEAD")
    assert head_commit(repo) == head
    assert head_commit(repo / "app") == head


def test_the_commit_is_found_through_packed_refs_and_a_detached_head(
    tmp_path: Path, git: Callable[..., str]
) -> None:
    repo = _repository(tmp_path / "repo", git)
    (repo / "app" / "mod.py").write_text("x = 2\n")
    git(repo, "commit", "-qam", "two")
    git(repo, "pack-refs", "--all")
    assert not (repo / ".git" / "refs" / "heads" / "main").exists()
    assert head_commit(repo) == git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "--detach", "HEAD~1")
    assert head_commit(repo) == git(repo, "rev-parse", "HEAD")


def test_a_linked_worktree_has_its_own_head(tmp_path: Path, git: Callable[..., str]) -> None:
    repo = _repository(tmp_path / "repo", git)
    worktree = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", "-b", "other", str(worktree))
    (worktree / "app" / "mod.py").write_text("x = 3\n")
    git(worktree, "commit", "-qam", "three")
    assert head_commit(worktree / "app") == git(worktree, "rev-parse", "HEAD")
    assert head_commit(repo) == git(repo, "rev-parse", "HEAD") != head_commit(worktree)


def test_no_commit_is_told_before_the_first_commit_or_outsidegit(
    tmp_path: Path, git: Callable[..., str]
) -> None:
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    git(fresh, "init", "-q")
    assert head_commit(fresh) is None
    plain = tmp_path / "plain"
    plain.mkdir()
    assert head_commit(plain) is None
