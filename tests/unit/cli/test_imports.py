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
