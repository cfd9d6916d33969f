"""`python starter.py complaint ...`: filing a complaint and acting on it, as the call centre and handlers do."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from temporalio.client import Client
from temporalio.exceptions import WorkflowAlreadyStartedError

from cli.claims import (
    CommandError,
    Flags,
    add_update_commands,
    as_json,
    development_token,
    send_to,
    update_payload,
)
from config.settings import Settings
from models.complaints import COMPLAINT_WORKFLOW_TYPE, ComplaintInput, complaint_workflow_id

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


def read_complaint(path: Path) -> dict[str, Any]:
    """The complaint in the file, checked before anything starts."""
    try:
        complaint = json.loads(path.read_text(encoding="utf-8"))
        ComplaintInput.model_validate({**complaint, "credential": None})
    except (OSError, json.JSONDecodeError) as err:
        raise CommandError(f"cannot read {path}: {err}") from None
    except ValidationError as err:
        raise CommandError(f"invalid complaint in {path}: {err}") from None
    return dict(complaint)


async def run(args: argparse.Namespace, settings: Settings, client: Client) -> None:
    if args.complaint_command == "file":
        complaint = read_complaint(args.file)
        credential = args.credential or development_token(settings, FILED_BY, ["channel"])
        workflow_id = complaint_workflow_id(complaint["complaint_id"])
        try:
            await client.start_workflow(COMPLAINT_WORKFLOW_TYPE, {**complaint, "credential": credential},
                                        id=workflow_id, task_queue=settings.task_queue)
        except WorkflowAlreadyStartedError:
            raise CommandError(f"{workflow_id} was filed already") from None
        print(f"filed {workflow_id}")
        return
    workflow_id = complaint_workflow_id(args.complaint_id)
    if args.complaint_command == "status":
        print(as_json(await client.get_workflow_handle(workflow_id).query("status")))
        return
    update, flags = UPDATES[args.complaint_command]
    print(as_json(await send_to(client, workflow_id, update, update_payload(settings, args, update, flags))))
