"""The command line's side of claims: reading a claim file, the update commands' flags, the sender's credential."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from temporalio.client import Client

from client.claims import Refused, claims_matching, worklist_query
from client.credentials import with_credential
from config.settings import Settings


class CommandError(Refused):
    """Bad input on the command line, shown to the user as one plain line (as a refusal is)."""


def as_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def read_claim_file(path: Path) -> dict[str, Any]:
    """A claim from a JSON file, or one plain line saying why the file is not one."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise CommandError(f"{path}: cannot be read ({err.__class__.__name__})") from None
    if not text.strip():
        raise CommandError(f"{path}: the file is empty; expected a claim as a JSON object")
    try:
        claim = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as err:
        where = f" (line {err.lineno}, column {err.colno}: {err.msg})" if isinstance(err, json.JSONDecodeError) else ""
        raise CommandError(f"{path}: not valid JSON{where}") from None
    if not isinstance(claim, dict):
        raise CommandError(f"{path}: expected a claim as a JSON object, got a JSON {type(claim).__name__}")
    return claim


Flags = list[tuple[str, str, dict[str, Any]]]
"""An update's command-line flags: (flag, payload field, argparse options)."""


def add_update_commands(commands: Any, updates: dict[str, tuple[str, Flags]], id_name: str,
                        credential_help: str) -> None:
    """A subcommand per update: the workflow's id, the update's flags and `--credential`."""
    for command, (update, flags) in updates.items():
        cmd = commands.add_parser(command, help=f"send the {update} update")
        cmd.add_argument(id_name)
        for flag, _, options in flags:
            cmd.add_argument(flag, **options)
        cmd.add_argument("--credential", help=credential_help)


def update_payload(settings: Settings, args: argparse.Namespace, workflow_id: str, update: str,
                   flags: Flags) -> dict[str, Any]:
    """The update's payload from the command's flags (those given), with its action proof as credential."""
    payload = {field: getattr(args, flag.lstrip("-").replace("-", "_")) for flag, field, _ in flags}
    return with_credential(settings, workflow_id, update, {k: v for k, v in payload.items() if v is not None},
                           args.credential)


async def worklist(client: Client, args: argparse.Namespace) -> list[dict[str, Any]]:
    query = worklist_query(args.stage, args.assignee, args.overdue, args.type, datetime.now(UTC))
    return await claims_matching(client, query)
