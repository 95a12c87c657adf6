"""``iamd authorize`` starts without the solver (z3), botocore, the store or the server: a user who decides
cases does not pay for the other commands' imports."""

from __future__ import annotations

import subprocess
import sys


def test_the_command_line_module_leaves_heavy_dependencies_to_the_commands_that_use_them() -> None:
    heavy = "('z3', 'botocore', 'sqlalchemy', 'starlette', 'uvicorn', 'argon2', 'rich')"
    probe = f"import sys, iamd.cli.main\nprint(sorted(m for m in {heavy} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_review_s_choices_are_the_practices_read_when_argparse_looks() -> None:
    """``iamd.cli.main`` builds every command's parser without importing the practices' checks;
    ``iamd review`` still accepts and refuses the same values, and lists them."""
    import argparse

    import pytest

    from iamd.cli import review
    from iamd.practices import CHECKS, SEVERITIES

    parser = argparse.ArgumentParser(prog="iamd", exit_on_error=False)
    commands = parser.add_subparsers()
    review.add_parser(commands)
    actions = commands.choices["review"]._actions
    check = next(a for a in actions if "--check" in a.option_strings)
    fail_on = next(a for a in actions if "--fail-on" in a.option_strings)
    assert check.choices is not None and fail_on.choices is not None
    assert list(check.choices) == sorted(CHECKS)
    assert list(fail_on.choices) == [*SEVERITIES, "none"]
    assert "root_mfa" in check.choices and "nope" not in check.choices
    args = parser.parse_args(["review", "--check", "root_mfa", "--fail-on", "none"])
    assert args.check == ["root_mfa"] and args.fail_on == "none"
    with pytest.raises(SystemExit):
        parser.parse_args(["review", "--check", "nope"])
