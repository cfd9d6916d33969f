"""`starter.py status CLAIM_ID`, started light (`make bench` holds the whole command to 0.3 s): asked over the
cluster's HTTP API with the standard library and the payload cipher (client/status_http.py), and through the SDK
with the settings, the client and the contract's models when that does not answer; never the workflows',
activities' or database's code. Its answer and its errors are `cli.main`'s for the same command."""

from __future__ import annotations

import sys

from client.status_http import status_over_http
from models.names import workflow_id_for


async def _status(claim_id: str) -> str:
    import json

    from client.status import claim_status
    from config.settings import get_settings
    from config.temporal import connect

    status = await claim_status(await connect(get_settings()), claim_id)
    return json.dumps(status.model_dump(mode="json"), indent=2, ensure_ascii=False, default=str)


def main(argv: list[str]) -> int:
    """`argv` is `["status", CLAIM_ID]`; anything else is the full command line's."""
    light = status_over_http(argv[1], workflow_id_for(argv[1]))
    if light is not None:
        print(light)
        return 0
    import asyncio

    from temporalio.service import RPCError

    from client.refusals import Refused

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
