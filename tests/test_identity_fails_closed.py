"""The development issuer fails closed (docs/operators.md, "Identity"): it runs only when enabled explicitly, and
every long-running process refuses to start with it beside a Temporal cluster, a real database, a listener beyond
loopback or a real issuer, saying what to set, before it connects to anything."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from config.embedded import development_issuer_problems, loopback, no_identity_problem
from config.settings import PROJECT_ROOT, Settings
from identity.keys import verifier_for

PRODUCTION_LIKE = {"TEMPORAL_ADDRESS": "temporal.insurer.internal:7233",
                   "DATABASE_URL": "postgresql+psycopg://claims@db.insurer.internal/claims"}
PROCESSES = {"the API": [sys.executable, "-m", "api"], "the worker": [sys.executable, "worker.py"],
             "the scheduler": [sys.executable, "-m", "reporting.scheduler"],
             "the event relay": [sys.executable, "-m", "events"]}


def run(command: list[str], tmp_path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items()
            if k not in ("CLAIMS_DEV_ISSUER", "TEMPORAL_ADDRESS", "DATABASE_URL", "CLAIMS_OIDC_ISSUER")}
    return subprocess.run(command, cwd=PROJECT_ROOT, env={**base, "CLAIMS_VAR_DIR": str(tmp_path), **env},
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("process", sorted(PROCESSES))
def test_each_process_refuses_the_development_issuer_beside_a_cluster_and_a_real_database(process, tmp_path):
    done = run(PROCESSES[process], tmp_path, CLAIMS_DEV_ISSUER="true", CLAIMS_API_HOST="0.0.0.0", **PRODUCTION_LIKE)
    assert done.returncode != 0, done.stdout + done.stderr
    said = done.stderr
    assert f"{process}: refusing to start with the development issuer" in said, said
    assert "TEMPORAL_ADDRESS=temporal.insurer.internal:7233" in said and "DATABASE_URL" in said, said
    assert "Set CLAIMS_DEV_ISSUER=false" in said and "CLAIMS_OIDC_ISSUER" in said, "the message says what to set"
    assert ("CLAIMS_API_HOST=0.0.0.0" in said) == (process == "the API"), said
    assert "claims@db" not in said, "the message repeats no database address (it may carry a password)"


def test_the_api_refuses_to_start_with_no_identity_provider_at_all(tmp_path):
    done = run(PROCESSES["the API"], tmp_path)
    assert done.returncode != 0 and "no identity provider is configured" in done.stderr, done.stderr
    assert "CLAIMS_DEV_ISSUER=true" in done.stderr and "CLAIMS_OIDC_ISSUER" in done.stderr


def test_the_development_issuer_is_off_unless_enabled(tmp_path, monkeypatch):
    monkeypatch.delenv("CLAIMS_DEV_ISSUER", raising=False)
    settings = Settings(CLAIMS_VAR_DIR=tmp_path)
    assert not settings.uses_development_issuer
    assert no_identity_problem(settings) is not None
    with pytest.raises(RuntimeError, match="no identity provider"):
        verifier_for(settings)
    assert not (tmp_path / "identity" / "dev-signing-key.pem").exists(), "no development key was made"
    enabled = Settings(CLAIMS_VAR_DIR=tmp_path, CLAIMS_DEV_ISSUER=True)
    assert enabled.uses_development_issuer and development_issuer_problems(enabled, "127.0.0.1") == []


@pytest.mark.parametrize(("change", "named"), [
    ({"TEMPORAL_ADDRESS": "127.0.0.1:7233"}, "TEMPORAL_ADDRESS"),  # even on loopback: a forwarded cluster looks so
    ({"DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1/test"}, "DATABASE_URL"),
    ({"CLAIMS_OIDC_ISSUER": "https://idp.insurer.example"}, "CLAIMS_OIDC_ISSUER"),
])
def test_what_makes_a_stack_not_the_embedded_one(change, named, tmp_path):
    settings = Settings(CLAIMS_VAR_DIR=tmp_path, CLAIMS_DEV_ISSUER=True, **change)
    problems = development_issuer_problems(settings)
    assert len(problems) == 1 and named in problems[0], problems
    assert development_issuer_problems(Settings(CLAIMS_VAR_DIR=tmp_path, CLAIMS_DEV_ISSUER=False, **change)) == []


def test_only_loopback_listeners_count_as_this_machine():
    assert all(loopback(h) for h in ("127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"))
    assert not any(loopback(h) for h in ("0.0.0.0", "::", "10.0.0.5", "claims.insurer.example"))


def test_a_public_address_beyond_this_machine_is_not_the_embedded_stack(tmp_path):
    """Behind a proxy on loopback the API listens on 127.0.0.1 and is still reached from anywhere."""
    settings = Settings(CLAIMS_VAR_DIR=tmp_path, CLAIMS_DEV_ISSUER=True, CLAIMS_PUBLIC_URL="https://claims.insurer.example")
    [problem] = development_issuer_problems(settings, "127.0.0.1")
    assert "CLAIMS_PUBLIC_URL" in problem
    local = Settings(CLAIMS_VAR_DIR=tmp_path, CLAIMS_DEV_ISSUER=True, CLAIMS_PUBLIC_URL="http://127.0.0.1:8000")
    assert development_issuer_problems(local, "127.0.0.1") == []


async def test_the_apps_services_refuse_the_development_issuer_however_the_app_is_started(tmp_path):
    from api.__main__ import build_services
    from config.embedded import UnsafeIdentity

    settings = Settings(CLAIMS_VAR_DIR=tmp_path, CLAIMS_DEV_ISSUER=True, **PRODUCTION_LIKE)
    with pytest.raises(UnsafeIdentity, match="TEMPORAL_ADDRESS"):
        await build_services(settings)
