"""The schema comes from the migrations alone, matches the SQLModel tables, and upgrades safely in parallel."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlmodel import SQLModel

from config.settings import PROJECT_ROOT
from db.engine import make_engine
from db.schema import alembic_config, upgrade

HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_the_migrated_database_matches_the_sqlmodel_tables(any_engine):
    with any_engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), SQLModel.metadata)
    assert diff == [], f"the migrations and models/tables.py disagree; add a migration: {diff}"


def test_upgrading_an_upgraded_database_does_nothing(any_engine):
    assert upgrade(any_engine) == HEAD
    assert upgrade(any_engine) == HEAD


# Each process imports everything, says it is ready, then waits for the go file: the upgrades start together.
UPGRADE_ON_GO = """
import pathlib, sys, time
from cli.main import main
folder = pathlib.Path(sys.argv[1])
(folder / f"ready-{sys.argv[2]}").touch()
while not (folder / "go").exists():
    time.sleep(0.001)
sys.exit(main(["db", "upgrade"]))
"""


def test_processes_upgrading_a_fresh_sqlite_file_at_once_all_succeed(tmp_path: Path):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}", "CLAIMS_VAR_DIR": str(tmp_path)}
    procs = [subprocess.Popen([sys.executable, "-c", UPGRADE_ON_GO, str(tmp_path), str(n)], cwd=PROJECT_ROOT,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for n in range(4)]
    deadline = time.monotonic() + 30
    while len(list(tmp_path.glob("ready-*"))) < len(procs) and time.monotonic() < deadline:
        time.sleep(0.01)
    (tmp_path / "go").touch()
    outputs = [proc.communicate(timeout=60)[0] for proc in procs]
    for proc, out in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, f"a concurrent upgrade failed:\n{out}"
        assert f"database at revision {HEAD}" in out, out
    engine = make_engine(env["DATABASE_URL"])
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == HEAD
    engine.dispose()


def test_db_upgrade_command_prints_the_revision(tmp_path: Path):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'claims.db'}", "CLAIMS_VAR_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "starter.py", "db", "upgrade"], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and f"database at revision {HEAD}" in done.stdout, done.stdout + done.stderr


def _open_when_told(path: str, go: str, answers: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    engine = make_engine(f"sqlite:///{path}")
    answers.put("ready")
    while not os.path.exists(go):
        time.sleep(0.001)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE IF NOT EXISTS opened (n INTEGER)"))
        answers.put("ok")
    except Exception as err:  # noqa: BLE001 (what failed is the test's answer)
        answers.put(f"{type(err).__name__}: {err}")


def test_processes_opening_a_fresh_sqlite_file_at_once_all_get_it(tmp_path: Path):
    """Found when four upgrades met on a fresh file: switching it to WAL takes it for a moment alone, and SQLite refused
    the others at once, without waiting out its busy timeout (`db.engine._write_ahead_log`). Four processes open a new
    file together, thirty times; without the retry about one round in eight failed."""
    forked = multiprocessing.get_context("fork")
    for round_ in range(30):
        folder = tmp_path / str(round_)
        folder.mkdir()
        answers = forked.Queue()
        procs = [forked.Process(target=_open_when_told, args=(str(folder / "fresh.db"), str(folder / "go"), answers))
                 for _ in range(4)]
        for proc in procs:
            proc.start()
        assert [answers.get(timeout=60) for _ in procs] == ["ready"] * 4
        (folder / "go").touch()  # all four are waiting for it: they open the file together
        found = [answers.get(timeout=60) for _ in procs]
        for proc in procs:
            proc.join(timeout=60)
        assert found == ["ok"] * 4, f"round {round_}: {found}"
