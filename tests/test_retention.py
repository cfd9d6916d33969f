"""Closed claims' histories outlive the namespace's retention: exported, still encrypted, to the audit archive,
kept as long as Insurance Law art. 87 says, and replayable from the export (docs/rules.md#personal-data)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import Session, select

from audit.retention import ExportDamaged, export_closed, fetch_export, keep_until, law_years
from config.settings import PROJECT_ROOT
from documents.archive import ArchiveConflict, FolderArchive, S3Archive
from models.tables import HistoryExport, Policy
from testkit.claims import auto_claim
from testkit.waiting import eventually
from testkit.world import TEST_KEYS
from tests.object_store import ObjectStoreServer
from tests.test_personal_data import in_the_clear


def policy(start: date, end: date) -> Policy:
    return Policy(policy_number="P-1", product="auto", holder_name="x", status="active", effective_from=start,
                  effective_to=end, sum_insured=Decimal(1), deductible=Decimal(0), payout_ratio=Decimal(1))


def test_the_law_keeps_records_five_years_after_a_short_contract_and_ten_after_a_long_one():
    assert law_years(date(2026, 1, 1), date(2026, 12, 31)) == 5
    assert law_years(date(2024, 1, 1), date(2025, 1, 1)) == 5  # a leap year's contract is still a year
    assert law_years(date(2026, 1, 1), date(2028, 1, 1)) == 10
    one_year = policy(date(2026, 1, 1), date(2026, 12, 31))
    assert keep_until(one_year, date(2026, 6, 1)) == date(2031, 12, 31), "counted from the contract's end"
    assert keep_until(one_year, date(2027, 3, 1)) == date(2032, 3, 1), "or from the close, when later"
    assert keep_until(one_year, date(2026, 6, 1), at_least_years=8) == date(2034, 12, 31)
    assert keep_until(one_year, date(2026, 6, 1), at_least_years=2) == date(2031, 12, 31), "never below the law"
    assert keep_until(None, date(2028, 2, 29)) == date(2038, 2, 28)


def test_an_archived_name_is_written_once(tmp_path):
    archive = FolderArchive(tmp_path)
    archive.put("histories/claim-A/run-1.json", b"{}", "application/json")
    archive.put("histories/claim-A/run-1.json", b"{}", "application/json")  # the same bytes again: fine
    with pytest.raises(ArchiveConflict):
        archive.put("histories/claim-A/run-1.json", b"{\"x\": 1}", "application/json")
    with pytest.raises(ValueError):
        archive.put("../outside.json", b"{}", "application/json")
    assert archive.names("histories/") == ["histories/claim-A/run-1.json"]


def test_the_s3_archive_keeps_lists_and_refuses_to_replace(object_store: ObjectStoreServer, monkeypatch, tmp_path):
    object_store.use_in_environment(monkeypatch, tmp_path)
    archive = S3Archive(object_store.bucket, prefix=f"audit-{uuid.uuid4().hex[:8]}/",
                        endpoint_url=object_store.endpoint_url)
    archive.put("checkpoints/checkpoint-2.json", b"2", "application/json")
    archive.put("checkpoints/checkpoint-1.json", b"1", "application/json")
    assert archive.names("checkpoints/") == ["checkpoints/checkpoint-1.json", "checkpoints/checkpoint-2.json"]
    assert archive.get("checkpoints/checkpoint-2.json") == b"2"
    with pytest.raises(ArchiveConflict):
        archive.put("checkpoints/checkpoint-2.json", b"two", "application/json")
    with pytest.raises(KeyError):
        archive.get("checkpoints/none.json")


@pytest.mark.devserver
async def test_a_closed_claims_history_is_exported_encrypted_and_replays_from_the_export(live, tmp_path):
    claim = auto_claim(f"RET-{uuid.uuid4().hex[:6]}")
    await live.start(claim)
    await live.wait(claim["claim_id"], lambda s: s["outcome"] == "paid", "paid")
    handle = live.handle(claim["claim_id"])
    await handle.result()
    archive = FolderArchive(tmp_path / "audit")
    on_this_queue = f"TaskQueue = '{live.queue}'"

    found = await eventually(  # visibility learns of the close a moment after it
        lambda: export_closed(live.client, live.engine, archive, extra_query=on_this_queue), bool,
        "the closed claim exported", every=0.2)
    [exported] = found
    assert exported.workflow_id == handle.id and exported.name.startswith(f"histories/{handle.id}/")
    assert exported.keep_until.year >= date.today().year + 10, "the sample policy runs over a year: 10 years"
    assert await export_closed(live.client, live.engine, archive, extra_query=on_this_queue) == [], \
        "a run is exported once"
    with Session(live.engine) as session:
        [row] = session.exec(select(HistoryExport).where(HistoryExport.workflow_id == handle.id)).all()
    assert row.events == len((await handle.fetch_history()).events)

    content = fetch_export(live.engine, archive, handle.id)
    assert in_the_clear(content.decode()) == [], "the export keeps the payloads encrypted"
    exported_file = tmp_path / "export.json"
    exported_file.write_bytes(content)
    env = {**os.environ, "CLAIMS_ENCRYPTION_KEYS": TEST_KEYS, "CLAIMS_VAR_DIR": str(tmp_path / "var")}
    replayed = subprocess.run([sys.executable, "starter.py", "audit", "replay", "--file", str(exported_file)],
                              cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert replayed.returncode == 0 and f"OK   {handle.id}" in replayed.stdout, replayed.stdout + replayed.stderr

    (tmp_path / "audit" / row.name).write_bytes(content.replace(b'"eventId"', b'"eventId" ', 1))
    with pytest.raises(ExportDamaged):
        fetch_export(live.engine, archive, handle.id)
    assert Path(tmp_path / "audit" / row.name).exists()
