"""`python starter.py cat ...`: declare a catastrophe, close it, see where it stands (docs/catastrophes.md)."""

from __future__ import annotations

import argparse
from typing import Any

from pydantic import ValidationError
from temporalio.client import Client

from cli.claims import CommandError, as_json
from client import catastrophes as cat_client
from client.credentials import with_credential
from config.settings import Settings
from models.catastrophes import DECLARE_CATASTROPHE, DeclareCatastrophe, catastrophe_workflow_id


def add_parser(sub: Any, credential_help: str) -> None:
    cat = sub.add_parser("cat", help="declare a catastrophe, close it, see where it stands (docs/catastrophes.md)")
    commands = cat.add_subparsers(dest="cat_command", required=True)
    declare = commands.add_parser("declare", help="declare a catastrophe (a manager)")
    declare.add_argument("--code", required=True, help="e.g. CAT-2026-TY09")
    declare.add_argument("--name", required=True)
    declare.add_argument("--regions", required=True, help="administrative division codes, comma-separated "
                                                          "(440000 a province, 440300 a city)")
    declare.add_argument("--from", dest="starts_at", required=True, help="when it began (ISO 8601, with zone)")
    declare.add_argument("--to", dest="ends_at", required=True, help="when it ends (ISO 8601, with zone)")
    declare.add_argument("--types", required=True, help="claim types, comma-separated (auto,property)")
    declare.add_argument("--documents", action="append", default=[],
                         help="TYPE=KIND,KIND: the reduced documents list of a claim type (repeatable)")
    declare.add_argument("--uplift", default="1", help="the authority uplift for its claims (1 to 5)")
    declare.add_argument("--team", default="", help="staff ids, comma-separated: the uplift is theirs alone "
                                                    "(unset: every adjuster's and supervisor's)")
    declare.add_argument("--advance-days", type=int, help="days after complete materials when the workflow pays "
                                                          "what it can determine (1 to 60; the law's 60 if unset)")
    declare.add_argument("--advance-share", help="the share of it paid while an investigation is open (0.01 to 1)")
    declare.add_argument("--no-green-channel", action="store_true", help="leave its claims on their usual path")
    declare.add_argument("--by", required=True, help="the manager declaring it")
    declare.add_argument("--reason", required=True)
    declare.add_argument("--credential", help=credential_help)
    close = commands.add_parser("close", help="close a catastrophe: no claim joins it any more (a manager)")
    close.add_argument("code")
    close.add_argument("--by", required=True)
    close.add_argument("--reason", required=True)
    close.add_argument("--credential", help=credential_help)
    status = commands.add_parser("status", help="where a catastrophe stands")
    status.add_argument("code")


def declaration(args: argparse.Namespace) -> DeclareCatastrophe:
    """The declaration the flags describe, checked before anything starts."""
    documents: dict[str, list[str]] = {}
    for entry in args.documents:
        kind, _, kinds = entry.partition("=")
        documents[kind.strip()] = [k.strip() for k in kinds.split(",") if k.strip()]
    try:
        return DeclareCatastrophe.model_validate({
            "code": args.code, "name": args.name, "regions": [r.strip() for r in args.regions.split(",") if r.strip()],
            "starts_at": args.starts_at, "ends_at": args.ends_at,
            "claim_types": [t.strip() for t in args.types.split(",") if t.strip()],
            "rules": {"green_channel": not args.no_green_channel, "documents": documents,
                      "authority_uplift": args.uplift, "team": [t.strip() for t in args.team.split(",") if t.strip()],
                      "advance_days": args.advance_days,
                      "advance_share": args.advance_share},
            "declared_by": args.by, "reason": args.reason})
    except ValidationError as err:
        raise CommandError(f"invalid declaration: {err}") from None


async def run(args: argparse.Namespace, settings: Settings, client: Client) -> None:
    if args.cat_command == "declare":
        decl = declaration(args)
        start = with_credential(settings, catastrophe_workflow_id(decl.code), DECLARE_CATASTROPHE,
                                cat_client.start_payload(decl), args.credential)
        print(f"declared {await cat_client.declare(client, start, settings.task_queue)}")
    elif args.cat_command == "close":
        payload = with_credential(settings, catastrophe_workflow_id(args.code), "close_catastrophe",
                                  {"by": args.by, "reason": args.reason}, args.credential)
        print(as_json((await cat_client.close(client, args.code, payload)).model_dump(mode="json")))
    else:
        print(as_json((await cat_client.status(client, args.code)).model_dump(mode="json")))
