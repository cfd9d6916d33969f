"""The claim's search attributes (docs/contract.md): worklists and dashboards query these.

No personal data goes into them: only stage, type, risk, path, assignee id, amount, SLA state and catastrophe code.
"""

from typing import Any

from temporalio.common import SearchAttributeKey

CLAIM_STAGE = SearchAttributeKey.for_keyword("ClaimStage")
CLAIM_TYPE = SearchAttributeKey.for_keyword("ClaimType")
RISK_LEVEL = SearchAttributeKey.for_keyword("RiskLevel")
PATH = SearchAttributeKey.for_keyword("Path")
ASSIGNED_TO = SearchAttributeKey.for_keyword("AssignedTo")
CLAIM_AMOUNT = SearchAttributeKey.for_float("ClaimAmount")
SLA_DUE_AT = SearchAttributeKey.for_datetime("SlaDueAt")
SLA_BREACHED = SearchAttributeKey.for_bool("SlaBreached")
CATASTROPHE = SearchAttributeKey.for_keyword("CatastropheCode")
"""The declared catastrophe a claim joined (docs/catastrophes.md); set only on claims that joined one."""

ALL: list[SearchAttributeKey[Any]] = [
    CLAIM_STAGE, CLAIM_TYPE, RISK_LEVEL, PATH, ASSIGNED_TO, CLAIM_AMOUNT, SLA_DUE_AT, SLA_BREACHED, CATASTROPHE,
]
