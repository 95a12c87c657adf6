"""iamd.policy, iamd.authz and iamd.analyzer are pure: no I/O, no clock, no imports from the rest of iamd.

Every module under src/iamd/policy and src/iamd/authz is parsed with ``ast``; what it imports and
which names it uses are checked against the allow-lists below.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PURE_PACKAGES = ("iamd.policy", "iamd.authz", "iamd.analyzer", "iamd.analyzer.proofs")

# Standard-library modules without I/O or clock. ``types`` is here for MappingProxyType (a read-only
# dict view, used by iamd.authz.request); it does no I/O either. ``json`` is here for its C decoder
# and encoder on strings (iamd.policy.jsonpos reads policy values with it); it opens nothing.
STDLIB_ALLOWED = frozenset(
    {
        "__future__",
        "collections",
        "collections.abc",
        "dataclasses",
        "enum",
        "typing",
        "re",
        "functools",
        "decimal",
        "datetime",
        "ipaddress",
        "base64",
        "binascii",
        "operator",
        "itertools",
        "math",
        "string",
        "types",
        "difflib",
        "json",
    }
)
# Which iamd packages each pure package may import.
IAMD_ALLOWED = {
    "iamd.policy": ("iamd.policy",),
    "iamd.authz": ("iamd.policy", "iamd.authz"),
    "iamd.analyzer": ("iamd.policy", "iamd.analyzer"),
    # The SMT proofs: the policy language, the evaluator (to confirm counterexamples) and z3.
    "iamd.analyzer.proofs": ("iamd.policy", "iamd.authz", "iamd.analyzer.proofs", "z3"),
}
FORBIDDEN_MODULES = ("os", "sys", "socket", "time", "random", "sqlalchemy", "logging", "io", "pathlib")
FORBIDDEN_NAMES = frozenset({"open", "print", "input", "breakpoint", "__import__", "eval", "exec"})
CLOCK_CALLS = frozenset(
    {
        ("datetime", "now"),
        ("datetime", "utcnow"),
        ("datetime", "today"),
        ("date", "today"),
        ("time", "time"),
        ("time", "monotonic"),
        ("time", "perf_counter"),
    }
)


@dataclass(frozen=True)
class Module:
    name: str
    package: str
    path: Path
    tree: ast.Module


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _modules() -> list[Module]:
    out: list[Module] = []
    for package in PURE_PACKAGES:
        root = SRC.joinpath(*package.split("."))
        for path in sorted(root.rglob("*.py")):
            # A module is judged by the most specific pure package holding it (iamd.analyzer.proofs
            # may import z3 and the evaluator; the rest of iamd.analyzer may not).
            if max((p for p in PURE_PACKAGES if _within(_module_name(path), p)), key=len) != package:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            out.append(Module(_module_name(path), package, path, tree))
    return out


MODULES = _modules()


def _imports(module: Module) -> list[tuple[str, int]]:
    """Every module ``module`` imports, absolute, with its line."""
    found: list[tuple[str, int]] = []
    is_package = module.path.name == "__init__.py"
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.name.split(".")
                drop = node.level - 1 if is_package else node.level
                base = base[: len(base) - drop] if drop else base
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.append((target, node.lineno))
    return found


def test_the_pure_packages_are_found() -> None:
    names = {m.name for m in MODULES}
    assert {"iamd.policy", "iamd.policy.parse", "iamd.policy.conditions.ip", "iamd.authz.evaluate"} <= names


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.name)
def test_imports_stay_inside_the_allow_list(module: Module) -> None:
    bad = []
    for name, line in _imports(module):
        if name in STDLIB_ALLOWED:
            continue
        if any(_within(name, allowed) for allowed in IAMD_ALLOWED[module.package]):
            continue
        bad.append(f"{module.path}:{line}: imports {name}")
    assert not bad, "\n".join(bad)


def test_policy_does_not_import_authz() -> None:
    offenders = [
        f"{m.path}:{line}"
        for m in MODULES
        if m.package == "iamd.policy"
        for name, line in _imports(m)
        if _within(name, "iamd.authz")
    ]
    assert not offenders


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.name)
def test_no_io_clock_or_randomness(module: Module) -> None:
    bad = []
    for node in ast.walk(module.tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES:
            bad.append(f"{module.path}:{line}: uses {node.id}()")
        if isinstance(node, ast.Name) and node.id in FORBIDDEN_MODULES:
            bad.append(f"{module.path}:{line}: uses {node.id}")
        if isinstance(node, ast.Attribute):
            owner = node.value
            owner_name = (
                owner.id
                if isinstance(owner, ast.Name)
                else owner.attr
                if isinstance(owner, ast.Attribute)
                else None
            )
            if owner_name is not None and (owner_name, node.attr) in CLOCK_CALLS:
                bad.append(f"{module.path}:{line}: reads the clock ({owner_name}.{node.attr})")
    for name, line in _imports(module):
        if name.split(".")[0] in FORBIDDEN_MODULES:
            bad.append(f"{module.path}:{line}: imports {name}")
    assert not bad, "\n".join(bad)


# --- the checker itself ---------------------------------------------------------------------------


def _fake(source: str, name: str = "iamd.policy.fake", package: str = "iamd.policy") -> Module:
    path = SRC / "iamd" / "policy" / "fake.py"
    return Module(name, package, path, ast.parse(source))


@pytest.mark.parametrize(
    "source",
    [
        "import os\n",
        "from iamd.authz import evaluate\n",
        "from iamd.store import store\n",
        "from ..authz import evaluate\n",
        "import pickle\n",
    ],
)
def test_the_import_check_catches_forbidden_imports(source: str) -> None:
    with pytest.raises(AssertionError):
        test_imports_stay_inside_the_allow_list(_fake(source))


@pytest.mark.parametrize(
    "source",
    [
        "from datetime import datetime\nnow = datetime.now()\n",
        "import datetime\nx = datetime.datetime.utcnow()\n",
        "x = open('f')\n",
        "print('hi')\n",
        "import time\nx = time.time()\n",
        "import random\n",
    ],
)
def test_the_purity_check_catches_io_and_clock(source: str) -> None:
    with pytest.raises(AssertionError):
        test_no_io_clock_or_randomness(_fake(source))


def test_relative_imports_are_resolved() -> None:
    module = _fake("from .wildcards import compile_glob\nfrom . import ast\n")
    assert [name for name, _ in _imports(module)] == ["iamd.policy.wildcards", "iamd.policy"]
