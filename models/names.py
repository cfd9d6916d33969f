"""The contract's names that callers starting light need, with no import of pydantic: a claim's workflow id and
its status query's name (models/contract.py re-exports both)."""

STATUS_QUERY = "status"
"""The query every claim answers with its `ClaimStatus`."""


def workflow_id_for(claim_id: str) -> str:
    return f"claim-{claim_id}"
