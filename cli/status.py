"""`starter.py status CLAIM_ID`, started light: the settings, the client and the contract's models, none of the
workflows', activities' or database's code (`make bench` holds the whole command to 0.3 s). Its answer and its
errors are `cli.main`'s for the same command."""

from __future__ import annotations

import asyncio
import json
import sys

from temporalio.service import RPCError

from client.refusals import Refused
from client.status import claim_status
from config.settings import get_settings
from config.temporal import connect


async def _status(claim_id: str) -> str:
    status = await claim_status(await connect(get_settings()), claim_id)
    return json.dumps(status.model_dump(mode="json"), indent=2, ensure_ascii=False, default=str)


def main(argv: list[str]) -> int:
    """`argv` is `["status", CLAIM_ID]`; anything else is the full command line's."""
    try:
        print(asyncio.run(_status(argv[1])))
    except Refused as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except RPCError as err:
        print(f"error: Temporal: {err.message}", file=sys.stderr)
        return 2
    return 0


def wanted(argv: list[str]) -> bool:
    """Whether the command is `status CLAIM_ID` alone (help and other flags go to the full command line)."""
    return len(argv) == 2 and argv[0] == "status" and not argv[1].startswith("-")
