"""The schema comes from the migrations alone, matches the SQLModel tables, and upgrades safely in parallel."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
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
