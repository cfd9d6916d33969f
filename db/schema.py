"""The database schema: Alembic migrations, applied by `python starter.py db upgrade` before any process runs.

Workers, the scheduler and the API never create tables. `upgrade` is safe when several processes run it at
once: the whole upgrade is one transaction that first takes a lock (PostgreSQL: an advisory lock for the
schema; SQLite: `BEGIN IMMEDIATE`, the database's write lock), so the second upgrader waits, then finds the
database at the head revision and has nothing to do.
"""

from __future__ import annotations

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from alembic import command
from config.settings import PROJECT_ROOT
from db.engine import SQLITE_BEGIN

ALEMBIC_DIR = PROJECT_ROOT / "alembic"
_PG_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended('claims-schema:' || current_schema(), 0))"


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration in code; with a connection, migrations run on it (and its search_path)."""
    config = Config()
    config.set_main_option("script_location", str(ALEMBIC_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> str | None:
    """Bring the database to `revision` (the newest by default); the revision it is at afterwards."""
    with engine.connect() as conn:
        conn = conn.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(text(_PG_LOCK))
            command.upgrade(alembic_config(conn), revision)
            return current_revision(conn)


def grant_app_role(engine: Engine, role: str) -> list[str]:
    """PostgreSQL: let the workers' role use the tables the migrations made (run as their owner), but only
    INSERT and SELECT on the claim event log and the financial ledger. Not being the tables' owner, the role can
    neither switch their triggers off nor alter or truncate them. The statements run, in order."""
    if engine.dialect.name != "postgresql":
        raise ValueError("roles are PostgreSQL's: on SQLite whoever can open the file can write it")
    if not role.replace("_", "").isalnum():
        raise ValueError(f"role {role!r}: letters, digits and underscores only")
    with engine.begin() as conn:
        schema = conn.execute(text("select current_schema()")).scalar_one()
        statements = [
            f'GRANT USAGE ON SCHEMA "{schema}" TO {role}',
            f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "{schema}" TO {role}',
            f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA "{schema}" TO {role}',
            f'REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON "{schema}".claim_events FROM {role}',
            f'REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON "{schema}".ledger FROM {role}',
            f'REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON "{schema}".ledger_start FROM {role}',
            f'REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON "{schema}".history_exports FROM {role}',
            f'REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON "{schema}".codec_decodes FROM {role}',
            f'REVOKE UPDATE, DELETE, TRUNCATE ON "{schema}".alembic_version FROM {role}',
        ]
        for statement in statements:
            conn.execute(text(statement))
    return statements
