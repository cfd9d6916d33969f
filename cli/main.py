"""The command line: one parser, one dispatcher. `starter.py` at the top level calls `main`."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, date, datetime
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy.engine import Engine
from temporalio.service import RPCError

from cli import catastrophes, complaints
from cli.claims import (
    CommandError,
    Flags,
    add_update_commands,
    as_json,
    read_claim_file,
    update_payload,
    worklist,
)
from client.claims import CLAIM_UPDATES, Refused, claim_result, claim_status, parse_claim, send_update, start_claim
from client.credentials import development_token, with_credential
from config.logging import configure_logging
from config.settings import Settings, get_settings
from config.temporal import connect
from models.contract import ClaimInput, PolicyTerms, workflow_id_for

# update name -> (command, [(flag, payload field, kwargs)])
UPDATES: dict[str, tuple[str, Flags]] = {
    "approve": ("approve", [("--approver", "approver_id", {"required": True}),
                            ("--role", "role", {"required": True}),
                            ("--comment", "comment", {"default": ""}),
                            ("--amount", "amount", {"help": "appeal reviews only: the amount agreed"})]),
    "reject": ("reject", [("--approver", "approver_id", {"required": True}), ("--role", "role", {"required": True}),
                          ("--reason", "reason", {"required": True}), ("--clause", "clause", {"required": True})]),
    "escalate": ("escalate", [("--by", "by", {"required": True}), ("--reason", "reason", {"required": True})]),
    "assign": ("assign", [("--handler", "handler_id", {"required": True}), ("--by", "by", {"required": True})]),
    "record-investigation": ("record_investigation", [
        ("--investigator", "investigator_id", {"required": True}), ("--findings", "findings", {"required": True}),
        ("--confirmed-amount", "confirmed_amount", {}),
        ("--fraud-suspected", "fraud_suspected", {"action": "store_true"})]),
    "withdraw": ("withdraw", [("--by", "by", {"required": True}), ("--reason", "reason", {"required": True})]),
    "appeal": ("appeal", [("--reason", "reason", {"required": True})]),
    "request-code": ("request_code", [("--purpose", "purpose", {
        "required": True, "choices": ["bank_account", "progress"],
        "help": "what the code is for; it goes to the claimant's phone or e-mail on file"}),
        ("--account-last4", "account_last4", {
            "help": "for a bank-account code: the new account's last four digits, which the message names"})]),
    "update-bank-account": ("update_bank_account", [("--holder", "holder", {"required": True}),
                                                    ("--number", "number", {"required": True}),
                                                    ("--code", "code", {
                                                        "required": True,
                                                        "help": "the code request-code sent to the claimant"})]),
    "release-bank-account": ("release_bank_account", [("--by", "by", {"required": True}),
                                                      ("--role", "role", {"required": True}),
                                                      ("--reason", "reason", {"required": True})]),
    "reopen": ("reopen", [("--by", "by", {"required": True}), ("--reason", "reason", {"required": True}),
                          ("--role", "role", {"required": True})]),
    "approve-advance": ("approve_advance", [("--approver", "approver_id", {"required": True}),
                                            ("--role", "role", {"required": True}),
                                            ("--amount", "amount", {"required": True}),
                                            ("--comment", "comment", {"default": ""})]),
}


CREDENTIAL_HELP = ("the sender's bearer token; without it a development token is made for the person and role "
                   "given (refused when a real identity provider is configured)")


def load_policies_file(settings: Settings, path: Path) -> int:
    from activities.policies import load_policies
    from db.engine import make_engine
    from db.schema import upgrade

    try:
        policies = [PolicyTerms.model_validate(p) for p in json.loads(path.read_text(encoding="utf-8"))]
    except ValidationError as err:
        raise CommandError(f"invalid policies file: {err}") from None
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    return load_policies(engine, policies)


def db_upgrade(settings: Settings) -> None:
    from db.engine import make_engine
    from db.schema import upgrade

    engine = make_engine(settings.resolved_database_url)
    revision = upgrade(engine)
    engine.dispose()
    print(f"database at revision {revision}: {engine.url.render_as_string()}")


async def audit_trail(args: argparse.Namespace, settings: Settings) -> None:
    from audit.replay import history_from_file, runs_of
    from audit.trail import build_trail, render_html, render_json, render_text
    from config.encryption import EncryptionCodec, decrypted_history, keyring_for

    if args.file:
        runs = [history_from_file(args.file, settings=settings)]
    else:
        runs = await runs_of(await connect(settings), args.workflow_id)
    history = runs[-1]
    codec = EncryptionCodec(keyring_for(settings))
    entries = [entry for run in runs for entry in build_trail(decrypted_history(run.to_json_dict(), codec))]
    text = {"text": render_text, "json": render_json}.get(args.format, lambda e: render_html(e, history.workflow_id))
    rendered = text(entries)
    if args.output:
        args.output.write_text(rendered, encoding="utf-8")
        print(f"wrote the decision trail of {history.workflow_id} ({len(entries)} entries) to {args.output}")
    else:
        print(rendered)


async def verify_log(settings: Settings, *, with_histories: bool = True) -> None:
    from audit import log_heads
    from config.encryption import EncryptionCodec, audit_seal_keys, keyring_for
    from db.engine import make_engine
    from db.event_log import verify
    from documents.archive import archive_for

    archive = archive_for(settings)
    recorded = None
    if with_histories:
        codec = EncryptionCodec(keyring_for(settings))
        found = log_heads.from_archive(archive, codec) + await log_heads.from_temporal(await connect(settings), codec,
                                                                                      settings.task_queue)
        recorded = log_heads.merge(found)
    result = verify(make_engine(settings.resolved_database_url), audit_seal_keys(settings), archive, recorded)
    for problem in result.problems:
        print(f"claim {problem.claim_id} seq {problem.seq}: {problem.what}")
    checked = f"{result.rows} rows in {result.claims} claims"
    against = f", against the heads {len(recorded)} claims' histories recorded" if recorded is not None else ""
    if result.problems:
        raise CommandError(f"the claim event log is broken in {len(result.problems)} places "
                           f"({checked} checked{against})")
    print(f"claim event log intact: {checked}, every claim's hash chain unbroken{against}")


def verify_ledger(settings: Settings, engine: Engine | None = None) -> None:
    """The financial ledger's chains and seals, and its payments against the payments table (docs/finance.md), in the
    settings' database (or the engine given)."""
    from config.encryption import audit_seal_keys
    from db import ledger
    from db.engine import make_engine
    from documents.archive import archive_for

    engine = engine or make_engine(settings.resolved_database_url)
    result = ledger.verify(engine, audit_seal_keys(settings))
    problems = [*result.problems, *ledger.reconcile(engine),
                *ledger.against_checkpoint(engine, audit_seal_keys(settings), archive_for(settings))]
    for problem in problems:
        print(f"claim {problem.claim_id} row {problem.seq}: {problem.what}")
    checked = f"{result.rows} rows in {result.claims} claims"
    if problems:
        raise CommandError(f"the financial ledger is broken or does not reconcile in {len(problems)} places "
                           f"({checked} checked)")
    print(f"financial ledger intact: {checked}, every chain unbroken and sealed, every payment made booked once")


def read_outbox(settings: Settings, claim_id: str, kind: str | None) -> None:
    """Print a claim's letters from the embedded demo's outbox folder, opened with this installation's keys."""
    from config.encryption import keyring_for
    from letters.senders import letters_of, read_letter

    letters = letters_of(settings.outbox_dir, claim_id, kind)
    if not letters:
        raise CommandError(f"no letters of claim {claim_id}{f' of kind {kind}' if kind else ''} in "
                           f"{settings.outbox_dir} (the outbox folder holds the embedded demo's letters only)")
    keyring = keyring_for(settings)
    for path in letters:
        print(f"== {path.name.removesuffix('.sealed')}\n{read_letter(keyring, path)}\n")


async def audit_retention(args: argparse.Namespace, settings: Settings) -> None:
    from audit.retention import ExportDamaged, export_closed, fetch_export
    from db.engine import make_engine
    from documents.archive import archive_for

    engine, archive = make_engine(settings.resolved_database_url), archive_for(settings)
    if args.audit_command == "export-closed":
        exported = await export_closed(await connect(settings), engine, archive,
                                       at_least_years=settings.retention_years)
        for item in exported:
            print(f"{item.workflow_id} ({item.events} events) -> {item.name}, keep until {item.keep_until}")
        print(f"exported {len(exported)} closed claim histories to {archive.describe()}")
        return
    try:
        content = fetch_export(engine, archive, args.workflow_id, args.run_id)
    except (KeyError, ExportDamaged) as err:
        raise CommandError(str(err).strip("'\"")) from None
    args.output.write_bytes(content)
    print(f"wrote the exported history of {args.workflow_id} to {args.output} (SHA-256 checked)")


def finance_command(args: argparse.Namespace, settings: Settings) -> None:
    """`finance export` and `finance triangle`: figures from the financial ledger as at the end of a month in the
    report time zone (docs/finance.md). The month is checked before the database is opened."""
    from db.engine import make_engine
    from reporting import finance

    try:
        finance.parse_month(args.month)
    except ValueError as err:
        raise CommandError(f"--{err}") from None
    engine, zone = make_engine(settings.resolved_database_url), settings.report_timezone
    if args.finance_command == "export":
        if args.format == "parquet" and args.out is None:
            raise CommandError("--format parquet writes a file: name it with --out")
        figures = finance.month_end(engine, args.month, zone)
        if args.out is None:
            print(finance.figures_csv(figures), end="")
            return
        finance.export(figures, args.out, args.format)
        print(f"wrote the figures of {len(figures)} claims as at the end of {args.month} ({zone}) to {args.out}")
        return
    found = finance.triangles(engine, args.month, zone)
    if not found:
        raise CommandError(f"the ledger holds no movement up to the end of {args.month} ({zone})")
    if args.product is not None:
        if args.product not in found:
            raise CommandError(f"--product: no {args.product} claim has a movement up to the end of {args.month} "
                               f"({zone}); the ledger's products by then: {', '.join(found)}")
        found = {args.product: found[args.product]}
    print(finance.estimates_text(finance.estimated(found), args.month, zone))


async def audit_replay(args: argparse.Namespace, settings: Settings) -> None:
    from audit.replay import histories_for_query, history_from_file, replay, runs_of

    if args.file:
        outcomes = await replay([history_from_file(args.file, settings=settings)], settings=settings)
    else:
        client = await connect(settings)
        if args.workflow_id:
            outcomes = await replay(await runs_of(client, args.workflow_id), settings=settings)
        else:
            outcomes = await replay(histories_for_query(client, args.query), settings=settings)
    for outcome in outcomes:
        problem = f": {outcome.problem}" if outcome.problem else ""
        print(f"{'OK  ' if outcome.ok else 'FAIL'} {outcome.workflow_id}{problem}")
    failed = [o for o in outcomes if not o.ok]
    print(f"{len(outcomes) - len(failed)} replayed OK, {len(failed)} failed")
    if failed:
        raise CommandError(f"{len(failed)} histories do not replay against this code (nondeterminism)")
    if not outcomes:
        raise CommandError("no histories matched")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="starter.py", description="Claims orchestrator command line")
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("start", help="report a claim (first notice of loss) from a JSON file")
    start.add_argument("file", type=Path)
    start.add_argument("--wait", action="store_true", help="wait for the claim's result")
    status = sub.add_parser("status", help="where a claim stands")
    status.add_argument("claim_id")
    add_update_commands(sub, UPDATES, "claim_id", CREDENTIAL_HELP)
    submit = sub.add_parser("submit-documents", help="attach documents: --doc KIND=REF (repeatable)")
    submit.add_argument("claim_id")
    submit.add_argument("--doc", action="append", required=True, metavar="KIND=REF")
    submit.add_argument("--credential", help=CREDENTIAL_HELP)
    token = sub.add_parser("token", help="print a token from the development issuer (not with a real issuer)")
    token.add_argument("--sub", required=True, help="the staff id, or the channel's id (e.g. portal)")
    token.add_argument("--role", action="append", required=True, help="a role (repeatable), e.g. supervisor")
    token.add_argument("--ttl", type=int, default=3600, help="seconds the token is valid (default 3600)")
    policies = sub.add_parser("policies", help="policy administration")
    policies_sub = policies.add_subparsers(dest="policies_command", required=True)
    load = policies_sub.add_parser("load", help="load a JSON list of policies into the database")
    load.add_argument("file", type=Path)
    wl = sub.add_parser("worklist", help="open claims from search attributes, nearest deadline first")
    wl.add_argument("--stage")
    wl.add_argument("--assignee")
    wl.add_argument("--type")
    wl.add_argument("--overdue", action="store_true")
    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="apply the migrations to DATABASE_URL (before starting workers)")
    grant = db_sub.add_parser("grant", help="PostgreSQL: grant the workers' role what it needs, and on the event "
                                            "log only INSERT and SELECT (run as the tables' owner)")
    grant.add_argument("role")
    events = sub.add_parser("events", help="claim events for other systems (the relay is `python -m events`)")
    events_sub = events.add_subparsers(dest="events_command", required=True)
    events_sub.add_parser("status", help="each configured subscriber's backlog and dead letters")
    events_sub.add_parser("dead-letters", help="the events a subscriber refused past the retry limit")
    redrive = events_sub.add_parser("redrive", help="send dead letters again; each claim resumes at its dead event")
    redrive.add_argument("--subscriber", help="only this subscriber's (a webhook's name, or broker)")
    redrive.add_argument("--subject", help="only this claim's (its id) or complaint's (complaint:<id>)")
    complaints.add_parser(sub, CREDENTIAL_HELP)
    catastrophes.add_parser(sub, CREDENTIAL_HELP)
    sub.add_parser("demo", help="run sample claims down every path and show the outcome")
    outbox = sub.add_parser("outbox", help="the embedded demo's letters (sealed under var/outbox/)")
    outbox_sub = outbox.add_subparsers(dest="outbox_command", required=True)
    read = outbox_sub.add_parser("read", help="open a claim's letters, latest last: what the claimant received")
    read.add_argument("claim_id")
    read.add_argument("--kind", help="only letters of this kind, e.g. code_progress")
    server = sub.add_parser("server", help="the embedded Temporal server (when TEMPORAL_ADDRESS is unset)")
    server_sub = server.add_subparsers(dest="server_command", required=True)
    server_sub.add_parser("start", help="start it unless it runs already, and print its address")
    report = sub.add_parser("report", help="reports")
    report_sub = report.add_subparsers(dest="report_command", required=True)
    daily = report_sub.add_parser("daily", help="the daily KPI report for one day, as an HTML page")
    daily.add_argument("--date", type=date.fromisoformat, required=True, help="YYYY-MM-DD, in the report timezone")
    daily.add_argument("-o", "--output", type=Path, required=True)
    finance = sub.add_parser("finance", help="figures from the financial ledger as at a month's end "
                                             "(docs/finance.md)")
    finance_sub = finance.add_subparsers(dest="finance_command", required=True)
    month_help = "YYYY-MM: the figures are taken at the month's last instant in the report timezone"
    fx = finance_sub.add_parser("export", help="each claim's reserve, paid, recoveries and incurred, as CSV or "
                                               "Parquet")
    fx.add_argument("--month", required=True, help=month_help)
    fx.add_argument("--format", choices=["csv", "parquet"], default="csv")
    fx.add_argument("--out", type=Path, help="write to this file (without it, CSV to the terminal)")
    tri = finance_sub.add_parser("triangle", help="the paid and incurred loss triangles of each product, their "
                                                  "development factors and the IBNR (chain ladder)")
    tri.add_argument("--month", required=True, help=month_help)
    tri.add_argument("--product", help="only this product (the claim type: auto, health or property)")
    audit_cmd = sub.add_parser("audit", help="auditors' tools")
    audit_sub = audit_cmd.add_subparsers(dest="audit_command", required=True)
    rp = audit_sub.add_parser("replay", help="replay claim histories against this code; non-zero exit on any failure")
    source = rp.add_mutually_exclusive_group(required=True)
    source.add_argument("--workflow-id", help="a claim's workflow id, e.g. claim-C-1001")
    source.add_argument("--file", type=Path, help="a history JSON (temporal workflow show --output json)")
    source.add_argument("--query", help="a visibility query, e.g. \"ClaimStage = 'closed'\"")
    vl = audit_sub.add_parser("verify-log", help="check the claim event log: hash chains, seals, the latest "
                                                  "checkpoint, and the heads the claims' histories recorded")
    vl.add_argument("--without-histories", action="store_true",
                    help="skip the claims' histories (Temporal and the exported ones): rows and whole chains removed "
                         "since the last checkpoint then go unseen")
    audit_sub.add_parser("verify-ledger", help="check the financial ledger: hash chains, seals, the latest "
                                               "checkpoint, and every payment against the payments table")
    audit_sub.add_parser("checkpoint", help="write a signed checkpoint of every chain's head outside the database")
    trail = audit_sub.add_parser("trail", help="a claim's decision trail, reconstructed from its history")
    trail_source = trail.add_mutually_exclusive_group(required=True)
    trail_source.add_argument("--workflow-id")
    trail_source.add_argument("--file", type=Path, help="a history JSON (temporal workflow show --output json)")
    trail.add_argument("--format", choices=["text", "json", "html"], default="text")
    trail.add_argument("-o", "--output", type=Path, help="write to a file instead of the terminal")
    audit_sub.add_parser("export-closed", help="export every closed claim's history to the audit archive "
                                               "(the scheduler does it daily)")
    fetch = audit_sub.add_parser("fetch-export", help="get a claim's exported history back from the audit "
                                                      "archive, checked (then replay it with --file)")
    fetch.add_argument("--workflow-id", required=True)
    fetch.add_argument("--run-id", help="a run other than the last")
    fetch.add_argument("-o", "--output", type=Path, required=True)
    export = audit_sub.add_parser("export", help="write a claim's history as JSON (replayable with --file)")
    export.add_argument("--workflow-id", required=True)
    export.add_argument("-o", "--output", type=Path, required=True)
    return parser


async def run(args: argparse.Namespace, settings: Settings) -> None:
    if args.command == "db" and args.db_command == "grant":
        from db.engine import make_engine
        from db.schema import grant_app_role

        try:
            for statement in grant_app_role(make_engine(settings.resolved_database_url), args.role):
                print(statement)
        except ValueError as err:
            raise CommandError(str(err)) from None
        return
    if args.command == "db":
        db_upgrade(settings)
        return
    if args.command == "policies":
        count = load_policies_file(settings, args.file)
        print(f"loaded {count} policies into {settings.resolved_database_url}")
        return
    if args.command == "report":
        from db.engine import make_engine
        from reporting.reports import build_daily_report, render_daily_report

        engine = make_engine(settings.resolved_database_url)
        args.output.write_text(render_daily_report(build_daily_report(engine, args.date, settings.report_timezone)),
                               encoding="utf-8")
        print(f"wrote the daily report for {args.date} ({settings.report_timezone}) to {args.output}")
        return
    if args.command == "finance":
        finance_command(args, settings)
        return
    if args.command == "events":
        claim_events(args, settings)
        return
    if args.command == "token":
        if args.ttl <= 0:
            raise CommandError("--ttl must be a positive number of seconds")
        print(development_token(settings, args.sub, args.role, args.ttl))
        return
    if args.command == "server":
        from config.temporal import ensure_embedded_server

        print(settings.temporal_address or await ensure_embedded_server(settings))
        return
    if args.command == "outbox":
        read_outbox(settings, args.claim_id, args.kind)
        return
    if args.command == "demo":
        from demo.scenarios import run_demo

        await run_demo(settings)
        return
    if args.command == "audit" and args.audit_command == "checkpoint":
        from config.encryption import audit_seal_keys
        from db import ledger
        from db.engine import make_engine
        from db.event_log import write_checkpoint
        from documents.archive import archive_for

        archive = archive_for(settings)
        engine = make_engine(settings.resolved_database_url)
        name = write_checkpoint(engine, audit_seal_keys(settings), archive)
        print(f"wrote checkpoint {name} in {archive.describe()}")
        name = ledger.write_checkpoint(engine, audit_seal_keys(settings), archive, datetime.now(UTC))
        print(f"wrote the financial ledger's checkpoint {name}")
        return
    if args.command == "audit" and args.audit_command in ("export-closed", "fetch-export"):
        await audit_retention(args, settings)
        return
    if args.command == "audit" and args.audit_command == "verify-log":
        await verify_log(settings, with_histories=not args.without_histories)
        return
    if args.command == "audit" and args.audit_command == "verify-ledger":
        verify_ledger(settings)
        return
    if args.command == "audit" and args.audit_command == "trail":
        await audit_trail(args, settings)
        return
    if args.command == "audit" and args.audit_command == "export":
        from audit.replay import latest_history

        history = await latest_history(await connect(settings), args.workflow_id)
        args.output.write_text(history.to_json(), encoding="utf-8")
        print(f"wrote {len(history.events)} events of {args.workflow_id} to {args.output}")
        return
    if args.command == "audit":
        await audit_replay(args, settings)
        return
    claim: ClaimInput | None = None
    if args.command == "start":  # the input is checked before connecting: nothing starts when it is bad
        claim = parse_claim(read_claim_file(args.file))
    if args.command == "complaint" and args.complaint_command == "file":
        complaints.read_complaint(args.file)
    if args.command == "cat" and args.cat_command == "declare":
        catastrophes.declaration(args)
    client = await connect(settings)
    if args.command == "complaint":
        await complaints.run(args, settings, client)
    elif args.command == "cat":
        await catastrophes.run(args, settings, client)
    elif claim is not None:
        workflow_id = await start_claim(client, claim, settings.task_queue)
        print(f"started {workflow_id}")
        if args.wait:
            print(as_json((await claim_result(client, claim.claim_id)).model_dump(mode="json")))
    elif args.command == "status":
        print(as_json((await claim_status(client, args.claim_id)).model_dump(mode="json")))
    elif args.command == "submit-documents":
        documents = []
        for item in args.doc:
            kind, sep, ref = item.partition("=")
            if not sep:
                raise CommandError(f"--doc {item!r}: expected KIND=REF")
            documents.append({"kind": kind, "ref": ref})
        payload = with_credential(settings, workflow_id_for(args.claim_id), "submit_documents",
                                  {"documents": documents}, args.credential)
        missing = await send_update(client, args.claim_id, CLAIM_UPDATES["submit_documents"], payload)
        print("still missing: " + (", ".join(missing) if missing else "nothing"))
    elif args.command == "worklist":
        rows = await worklist(client, args)
        print(f"{'claim':<24} {'stage':<18} {'type':<9} {'risk':<7} {'assigned':<12} {'amount':>12}  sla due")
        for r in rows:
            due = r["sla_due_at"].isoformat(timespec="minutes") if r["sla_due_at"] else "-"
            flag = " BREACHED" if r["breached"] else ""
            print(f"{r['workflow_id']:<24} {r['stage'] or '-':<18} {r['type'] or '-':<9} {r['risk'] or '-':<7} "
                  f"{r['assigned_to'] or '-':<12} {r['amount'] or 0:>12,.2f}  {due}{flag}")
        print(f"{len(rows)} claims")
    else:
        update, flags = UPDATES[args.command]
        payload = update_payload(settings, args, workflow_id_for(args.claim_id), update, flags)
        result = await send_update(client, args.claim_id, CLAIM_UPDATES[update], payload)
        print(as_json(result.model_dump(mode="json") if hasattr(result, "model_dump") else result))


def claim_events(args: argparse.Namespace, settings: Settings) -> None:
    from datetime import UTC, datetime

    from db import outbox
    from db.engine import make_engine
    from events.sinks import sinks_for

    engine = make_engine(settings.resolved_database_url)
    if args.events_command == "redrive":
        count = outbox.redrive(engine, datetime.now(UTC), subscriber=args.subscriber, subject=args.subject)
        print(f"redrove {count} dead letters: the relay sends them again, in order")
        return
    letters = outbox.dead_letters(engine)
    if args.events_command == "status":
        names = [sink.name for sink in sinks_for(settings)]
        if not names:
            print("no subscribers configured (CLAIMS_EVENT_WEBHOOKS, CLAIMS_EVENT_BROKER_URL)")
        for name in names:
            dead = sum(letter.subscriber == name for letter in letters)
            print(f"{name:<20} {outbox.backlog(engine, name):>8} to send  {dead:>4} dead letters")
        return
    print(f"{'subscriber':<20} {'subject':<24} {'seq':>5} {'type':<28} {'attempts':>8}  dead at / last error")
    for letter in letters:
        print(f"{letter.subscriber:<20} {letter.subject:<24} {letter.seq:>5} {letter.type:<28} {letter.attempts:>8}  "
              f"{letter.dead_at:%Y-%m-%d %H:%M} {letter.last_error}")
    print(f"{len(letters)} dead letters")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = get_settings()
    configure_logging(settings)
    try:
        asyncio.run(run(args, settings))
    except Refused as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except RPCError as err:  # Temporal answered with an error of its own (unavailable, say)
        print(f"error: Temporal: {err.message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
