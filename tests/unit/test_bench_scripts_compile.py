"""Every bench script at least compiles: they run by hand, not in the suite, so a slip such as
a `global` after its name's first use would otherwise be found only by the next person
measuring."""

from __future__ import annotations

import py_compile
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
SCRIPTS = sorted(BENCH.glob("*.py"))


def test_the_bench_folder_has_scripts() -> None:
    assert {p.name for p in SCRIPTS} >= {"send_text.py", "reads.py", "webhooks.py"}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_bench_script_compiles(script: Path, tmp_path: Path) -> None:
    py_compile.compile(str(script), cfile=str(tmp_path / "out.pyc"), doraise=True)
