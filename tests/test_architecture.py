"""The layers hold (docs/architecture.md): the import contracts in pyproject.toml pass, each catches the import it
forbids when one is planted in a copy of the project, and no workflow, client or API module names an activity,
update, query or workflow by a string."""

from __future__ import annotations

import ast
import importlib
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from config.settings import PROJECT_ROOT

LINT = Path(sys.executable).parent / "lint-imports"
PACKAGES: list[str] = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["tool"]["importlinter"][
    "root_packages"]


def lint(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT), "--no-logo", "--no-cache"], cwd=root, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root)}, timeout=120)


def copy_of_the_project(tmp_path: Path) -> Path:
    for package in [*PACKAGES, "testkit"]:  # testkit: the lint's own contract type
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


@pytest.mark.parametrize(("plants", "caught"), [
    # a workflow that reaches the database itself instead of through an activity
    ([("workflows/claim_state.py", "import sqlalchemy")], "workflows.claim_state -> sqlalchemy"),
    ([("workflows/decisions.py", "import db.engine")], "workflows.decisions -> db.engine"),
    ([("workflows/clocks.py", "import sqlite3")], "workflows.clocks -> sqlite3"),
    ([("core/rules/payout.py", "import urllib.request")], "core.rules.payout -> urllib"),
    # infrastructure that reaches up into a workflow or the client
    ([("db/outbox.py", "import client.claims")], "db.outbox -> client.claims"),
    ([("letters/render.py", "import workflows.claim")], "letters.render -> workflows.claim"),
    # one edge that reaches into another
    ([("events/relay.py", "import web.workbench")], "events.relay -> web.workbench"),
    # the product reaching for an entry point or test code
    ([("models/contract.py", "import worker")], "models.contract -> worker"),
    ([("workflows/claim_state.py", "import testkit.world")], "workflows.claim_state -> testkit"),
    # files that import each other: siblings, a package and its own file, and three files of two packages
    ([("reporting/figures.py", "import reporting.reports")], ".figures -> .reports"),
    ([("workflows/clocks.py", "import workflows.claim")], "No cycles are allowed in workflows"),
    ([("edge/__init__.py", "import edge.problems"), ("edge/problems.py", "import edge")],
     "import each other round: edge, edge.problems"),
])
def test_a_planted_forbidden_import_breaks_a_contract(tmp_path, plants, caught):
    root = copy_of_the_project(tmp_path)
    for file, planted in plants:
        target = root / file
        target.write_text(target.read_text() + f"\n{planted}  # planted\n")
    result = lint(root)
    assert result.returncode != 0, result.stdout
    assert "BROKEN" in result.stdout and caught in " ".join(result.stdout.split()), result.stdout


def test_the_cycle_finder_finds_each_group_once():
    """The lint's own contract, on a graph drawn by hand: two groups, one of them through three packages."""
    import grimp

    from testkit.import_contracts import cycles

    graph = grimp.ImportGraph()
    for importer, imported in [("a.x", "b.y"), ("b.y", "c.z"), ("c.z", "a.x"), ("a", "a.w"), ("a.w", "a"),
                               ("a.x", "a.w"), ("d", "a.x")]:
        graph.add_import(importer=importer, imported=imported)
    assert cycles(graph, {"a", "b", "c", "d"}) == [["a", "a.w"], ["a.x", "b.y", "c.z"]]
    assert cycles(graph, {"d"}) == []


NAMED_CALLS = {"execute_activity", "execute_local_activity", "start_activity", "start_local_activity",
               "execute_activity_method", "execute_local_activity_method", "start_activity_method",
               "execute_update", "start_update", "execute_child_workflow", "start_child_workflow", "query",
               "signal", "start_workflow", "execute_workflow", "activity"}
"""Calls that name an activity, update, query, signal or workflow: by the method, never by a string."""
NAME_KEYWORDS = {"activity", "update", "query", "signal", "workflow"}


def calls_by_name(source: str) -> list[int]:
    """The lines of calls whose first argument, or a naming keyword, is a string (a literal or an f-string)."""
    def text(node: ast.expr | None) -> bool:
        return isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str))

    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in NAMED_CALLS:
            if (node.args and text(node.args[0])) or any(k.arg in NAME_KEYWORDS and text(k.value)
                                                          for k in node.keywords):
                found.append(node.lineno)
    return found


def test_no_product_module_calls_an_activity_update_query_or_workflow_by_a_string():
    """Activities, updates, queries and workflows are named by their methods, so a rename is a type error. One
    exception: the complaint's handover activity sends the claim its `appeal` update by the contract's name
    (`models.contract.APPEAL_UPDATE`, the name the workflow registers it under), as activities sit below the
    workflows."""
    found = []
    for package in PACKAGES:
        for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
            found += [f"{path.relative_to(PROJECT_ROOT)}:{n}" for n in calls_by_name(path.read_text())]
    assert found == [], found
    planted = 'await h.execute_update(\n    "approve", p)\nawait h.query(f"status")\nawait h.start_update(update="x")'
    assert calls_by_name(planted) == [1, 3, 4], "the scan finds split calls, f-strings and keywords"


CLIENT_CALLS = {"get_workflow_handle", "get_workflow_handle_for", "start_workflow", "execute_workflow",
                "list_workflows", "count_workflows", "execute_update", "start_update", "fetch_history",
                "signal_with_start_workflow"}
TALKS_TO_TEMPORAL = {"client", "audit", "activities/handover.py", "activities/ended_claims.py",
                     "activities/catastrophes.py"}
"""The client; the auditor, which reads histories; the complaint's handover, an activity that sends the claim its
appeal; the ended claim's contact, an activity that asks an ended claim for it; a declared catastrophe's telling of
the open claims (docs/architecture.md says why each)."""


def test_only_the_client_talks_to_claims_through_temporal():
    found = []
    for package in PACKAGES:
        for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
            where = str(path.relative_to(PROJECT_ROOT))
            if where.split("/")[0] in TALKS_TO_TEMPORAL or where in TALKS_TO_TEMPORAL:
                continue
            found += [f"{where}:{node.lineno} {node.func.attr}" for node in ast.walk(ast.parse(path.read_text()))
                      if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                      and node.func.attr in CLIENT_CALLS]
    assert found == [], found


def test_workflows_import_only_activity_classes_and_no_temporal_client():
    """The workflows' I/O contract lets them import activity modules to name activities; what they take from those
    modules is the activity classes and nothing else, and nothing of Temporal's client, worker or test server."""
    wrong = []
    for path in sorted((PROJECT_ROOT / "workflows").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module.split(".")[0] in ("activities", "ocr"):
                    module = importlib.import_module(node.module)
                    for alias in node.names:
                        cls = getattr(module, alias.name)
                        methods = [m for m in vars(cls).values() if hasattr(m, "__temporal_activity_definition")] \
                            if isinstance(cls, type) else []
                        if not methods:
                            wrong.append(f"{path.name}: {node.module}.{alias.name} is not an activity class")
                if node.module in ("temporalio.client", "temporalio.worker", "temporalio.testing"):
                    wrong.append(f"{path.name}: {node.module}")
            if isinstance(node, ast.Import):
                wrong += [f"{path.name}: {a.name}" for a in node.names
                          if a.name.split(".")[0] in ("activities", "ocr") or a.name.startswith("temporalio.client")]
    assert wrong == [], wrong


def imported_by(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    return found | {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}


def test_benchmarks_the_demo_and_the_product_import_no_test_module():
    """What the tests and the benchmarks share is in testkit/; the product imports neither."""
    wrong = []
    for folder in ["bench", *PACKAGES]:
        for path in sorted((PROJECT_ROOT / folder).rglob("*.py")):
            forbidden = ("tests",) if folder == "bench" else ("tests", "testkit")
            for module in imported_by(path):
                if module.split(".")[0] in forbidden:
                    wrong.append(f"{path.relative_to(PROJECT_ROOT)} imports {module}")
    for path in [PROJECT_ROOT / "worker.py", PROJECT_ROOT / "starter.py"]:
        wrong += [f"{path.name} imports {m}" for m in imported_by(path) if m.split(".")[0] in ("tests", "testkit")]
    assert wrong == [], wrong
    assert "testkit.claims" in imported_by(PROJECT_ROOT / "bench" / "engine_floor.py"), "the scan reads imports"


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
