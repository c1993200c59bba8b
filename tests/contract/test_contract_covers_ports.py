"""Guards the contract suite itself: every repository method of every port is exercised.

A method no contract test calls is a method where the fake may quietly disagree with SQL."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import get_type_hints

from domain import ports

HERE = Path(__file__).parent


def test_every_repository_method_is_called_by_a_contract_test() -> None:
    sources = "\n".join(p.read_text("utf-8") for p in HERE.glob("test_*.py"))
    repositories = {
        name: hint
        for name, hint in get_type_hints(ports.UnitOfWork, vars(ports)).items()
        if name.islower()
    }
    assert len(repositories) == 9  # users ... usage: a new repository joins this check
    missing = [
        f"uow.{name}.{method}"
        for name, protocol in repositories.items()
        for method, _ in inspect.getmembers(protocol, inspect.isfunction)
        if not method.startswith("_") and f"uow.{name}.{method}(" not in sources
    ]
    assert missing == []
