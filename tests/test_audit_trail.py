"""The decision trail, reconstructed from saved histories, and the command that prints it."""

from __future__ import annotations

import json
from pathlib import Path

from audit.trail import build_trail, render_html, render_json, render_text
from cli.main import main
from config.encryption import EncryptionCodec, decrypted_history
from testkit.world import TEST_KEYRING, TEST_KEYS

HISTORIES = Path(__file__).parent / "histories"


def trail_of(name: str):
    return build_trail(decrypted_history(json.loads((HISTORIES / f"{name}.json").read_text()),
                                         EncryptionCodec(TEST_KEYRING)))


def test_trail_shows_stages_risk_payout_basis_approver_payment_and_letters():
    text = render_text(trail_of("investigation-manager-approval"))
    for expected in ["claim H-06 reported", "rules in force: demo profile", "stage: investigating",
                     "risk 0 (low)", "record_investigation  [inv-wang]", "payout 125100.00",
                     "less deductible 1000.00: 139000.00 [Schedule: deductible]", "approve  [mgr-chen]",
                     "paid 125100.00", "idempotency key claim/H-06/payout/1", "letter sent: decision_partial #1",
                     "timer fired", "outcome paid, paid 125100.00"]:
        assert expected in text, f"{expected!r} missing from the trail:\n{text}"


def test_refused_attempts_are_not_in_the_trail_because_they_never_entered_history():
    text = render_text(trail_of("investigation-manager-approval"))
    assert "adj-zhao" not in text, "the demo's refused adjuster approval must not appear"


def test_trail_shows_denial_reasons_breaches_advances_and_failed_claims():
    assert "not covered: cause 'racing' is excluded by the policy" in render_text(trail_of("excluded-cause"))
    escalated = render_text(trail_of("escalates-on-its-own"))
    assert "sla breached" in escalated and "escalated to supervisor" in escalated
    advance = render_text(trail_of("statutory-advance-payment"))
    assert "statutory advance due" in advance and "paid 14750.00" in advance
    assert "claim refused: unknown policy 'P-NOPE-404'" in render_text(trail_of("unknown-policy"))


def test_trail_renders_as_json_and_as_an_escaped_html_page():
    entries = trail_of("green-channel")
    parsed = json.loads(render_json(entries))
    assert parsed[0]["kind"] == "reported" and any("gc-auto-1" in e["summary"] for e in parsed)
    page = render_html(entries, "claim-H-14")
    assert page.startswith("<!doctype html>") and "Decision trail: claim-H-14" in page


def test_audit_trail_command_writes_the_chosen_format(tmp_path, capsys, monkeypatch):
    from config.settings import get_settings

    monkeypatch.setenv("CLAIMS_ENCRYPTION_KEYS", TEST_KEYS)  # the keys the saved histories were written under
    get_settings.cache_clear()
    out = tmp_path / "trail.html"
    assert main(["audit", "trail", "--file", str(HISTORIES / "withdrawal.json"), "--format", "html",
                 "-o", str(out)]) == 0
    assert "withdraw" in out.read_text()
    assert main(["audit", "trail", "--file", str(HISTORIES / "fast-path.json")]) == 0
    assert "stage: closed" in capsys.readouterr().out
    get_settings.cache_clear()


def test_the_trail_of_a_continued_claim_reads_as_one_story_across_its_runs():
    runs = sorted(HISTORIES.glob("continued-run-*.json"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
    entries = [e for run in runs for e in trail_of(run.stem)]
    kinds = [e.kind for e in entries]
    assert kinds.count("reported") == 1 and kinds.count("continued") == len(runs) - 1
    text = render_text(entries)
    assert "stage: investigating" in text and "paid 14750.00" in text and "outcome paid" in text, text
