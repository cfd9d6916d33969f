"""`python starter.py complaint ...`: filing a complaint and acting on it, as the call centre and handlers do."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from temporalio.client import Client

from cli.claims import CommandError, Flags, add_update_commands, as_json, update_payload
from client.claims import send_to
from client.complaints import COMPLAINT_UPDATES, complaint_status, file_complaint, start_payload
from client.credentials import development_channel, development_token, exchanged, signed_here
from config.settings import Settings
from core.rules.access import FILE_COMPLAINT
from models.complaints import ComplaintInput, complaint_workflow_id

# command -> (update, [(flag, payload field, argparse options)])
UPDATES: dict[str, tuple[str, Flags]] = {
    "assign": ("assign_complaint", [("--handler", "handler_id", {"required": True}),
                                    ("--by", "by", {"required": True, "help": "the supervisor or manager"})]),
    "acknowledge": ("acknowledge_complaint", [("--by", "by", {"required": True}), ("--note", "note", {})]),
    "mark-complex": ("mark_complex", [("--by", "by", {"required": True}), ("--reason", "reason", {"required": True})]),
    "resolve": ("resolve_complaint", [
        ("--by", "by", {"required": True}), ("--resolution", "resolution", {"required": True}),
        ("--root-cause", "root_cause", {"required": True}),
        ("--acknowledged", "claimant_acknowledged", {"action": "store_true",
                                                     "help": "the complainant acknowledged the resolution"}),
        ("--note", "note", {"help": "why the complainant did not acknowledge it (required then)"})]),
    "refer-to-appeal": ("refer_to_appeal", [("--by", "by", {"required": True}),
                                            ("--reason", "reason", {"required": True})]),
}
FILED_BY = "call-centre"
"""The channel a complaint filed from the command line comes from, with the development issuer."""


def add_parser(sub: Any, credential_help: str) -> None:
    complaint = sub.add_parser("complaint", help="file a complaint and act on it (docs/complaints.md)")
    commands = complaint.add_subparsers(dest="complaint_command", required=True)
    filing = commands.add_parser("file", help="file a complaint from a JSON file (the ComplaintWorkflow input)")
    filing.add_argument("file", type=Path)
    filing.add_argument("--credential", help=credential_help)
    status = commands.add_parser("status", help="where a complaint stands")
    status.add_argument("complaint_id")
    add_update_commands(commands, UPDATES, "complaint_id", credential_help)


def read_complaint(path: Path) -> ComplaintInput:
    """The complaint in the file, checked before anything starts."""
    try:
        complaint = ComplaintInput.model_validate({**json.loads(path.read_text(encoding="utf-8")), "credential": None})
    except (OSError, json.JSONDecodeError) as err:
        raise CommandError(f"cannot read {path}: {err}") from None
    except ValidationError as err:
        raise CommandError(f"invalid complaint in {path}: {err}") from None
    return complaint


async def run(args: argparse.Namespace, settings: Settings, client: Client) -> None:
    if args.complaint_command == "file":
        complaint = read_complaint(args.file)
        start = start_payload(complaint)
        target = complaint_workflow_id(complaint.complaint_id)
        if args.credential:
            start = exchanged(settings, args.credential, target, FILE_COMPLAINT, start)
        else:
            development_token(settings, FILED_BY, ["channel"])  # refused unless the development issuer is on
            start = signed_here(settings, development_channel(FILED_BY), target, FILE_COMPLAINT, start)
        workflow_id = await file_complaint(client, start, settings.task_queue)
        print(f"filed {workflow_id}")
        return
    workflow_id = complaint_workflow_id(args.complaint_id)
    if args.complaint_command == "status":
        print(as_json((await complaint_status(client, args.complaint_id)).model_dump(mode="json")))
        return
    update, flags = UPDATES[args.complaint_command]
    payload = update_payload(settings, args, workflow_id, update, flags)
    result = await send_to(client, workflow_id, COMPLAINT_UPDATES[update], payload)
    print(as_json(result.model_dump(mode="json")))
