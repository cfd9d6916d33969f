"""The layers hold: the import contracts in pyproject.toml pass, and catch a forbidden import when one is planted."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from config.settings import PROJECT_ROOT

LINT = Path(sys.executable).parent / "lint-imports"
PACKAGES = ["core", "models", "config", "identity", "workflows", "activities", "audit", "reporting", "demo", "cli",
            "api", "documents", "events", "ocr"]


def lint(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT), "--no-logo", "--no-cache"], cwd=root, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root)}, timeout=120)


def copy_of_the_project(tmp_path: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(PROJECT_ROOT / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__", "*.onnx", "static", "templates"))
    shutil.copy(PROJECT_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_import_contracts_are_kept():
    result = lint(PROJECT_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" in result.stdout and " 0 broken" in result.stdout


def test_an_engine_imported_into_the_decision_core_breaks_its_contract(tmp_path):
    root = copy_of_the_project(tmp_path)
    state = root / "core" / "claim" / "state.py"
    state.write_text(state.read_text() + "\nfrom temporalio import workflow  # planted\n")
    result = lint(root)
    assert result.returncode != 0, result.stdout
    assert "core.claim.state -> temporalio" in result.stdout, result.stdout


def test_a_workflow_module_imported_into_the_decision_core_breaks_its_contract(tmp_path):
    root = copy_of_the_project(tmp_path)
    rules = root / "core" / "rules" / "payout.py"
    rules.write_text(rules.read_text() + "\nimport workflows.claim_state  # planted\n")
    result = lint(root)
    assert result.returncode != 0 and "core.rules.payout -> workflows.claim_state" in result.stdout, result.stdout


def test_no_class_stands_on_a_chain_of_more_than_two():
    """The claim is composed of parts (shell, clocks, decisions, reader), not stacked on base classes: every class the
    project defines has at most one project class under it."""
    import importlib
    import inspect
    import pkgutil

    classes, deep = 0, []
    for package in PACKAGES:
        for info in pkgutil.walk_packages(importlib.import_module(package).__path__, f"{package}."):
            if info.name.endswith("__main__"):  # running it starts a process
                continue
            module = importlib.import_module(info.name)
            for name, cls in inspect.getmembers(module, inspect.isclass):
                if cls.__module__ != module.__name__:
                    continue
                classes += 1
                chain = [c.__qualname__ for c in cls.__mro__ if c.__module__.split(".")[0] in PACKAGES]
                if len(chain) > 2:
                    deep.append(f"{info.name}.{name}: {' -> '.join(chain)}")
    assert classes > 200, classes  # the walk found the project's classes
    assert deep == [], deep
