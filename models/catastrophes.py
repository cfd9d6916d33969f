"""The catastrophe contract (docs/catastrophes.md): `CatastropheWorkflow`, id `cat-<code>`, its declaration, the
`close_catastrophe` update and `status` query. A catastrophe a manager declares gathers the claims whose incident
falls inside it (its regions, its time window, its claim types) and handles them by its own rules."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, model_validator

from models.contract import ClaimType, Message, TimelineEntry
from models.fields import Credential, FreeText, Identifier, Name, Region, Timestamp

CATASTROPHE_WORKFLOW_TYPE = "CatastropheWorkflow"
CATASTROPHE_DECLARED = "catastrophe_declared"
"""The signal a claim gets when a catastrophe is declared: look whether you fall in one (it carries nothing)."""
DECLARE_CATASTROPHE = "declare_catastrophe"
"""The action a declaration's proof names (a start, like a complaint's filing)."""


def catastrophe_workflow_id(code: str) -> str:
    return f"cat-{code}"


class CatastropheRules(Message):
    """How the catastrophe's claims are handled, all within the money guard."""

    green_channel: bool = True
    """Claims not paid on the fast path go to the green channel: a dedicated handler at once, advances."""
    documents: dict[ClaimType, list[Annotated[str, Field(pattern=r"^[a-z_]{2,40}$")]]] = Field(default_factory=dict)
    """The reduced list of documents a claim of each type needs (a type not listed keeps its usual list)."""
    authority_uplift: Decimal = Field(default=Decimal("1"), ge=1, le=5, max_digits=4, decimal_places=2)
    """The adjusters' and supervisors' authority limits are multiplied by this for the catastrophe's claims."""
    team: Annotated[list[Identifier], Field(max_length=200)] = Field(default_factory=list)
    """The catastrophe team: the staff ids the uplift is for. Empty: every adjuster and supervisor deciding the
    catastrophe's claims has it."""
    advance_days: int | None = Field(default=None, ge=1, le=60)
    """Days after the materials are complete when the workflow pays the amount it can already determine, on its own
    initiative (the law's 60 days at most: Insurance Law art. 25). None keeps the rules' own."""
    advance_share: Decimal | None = Field(default=None, gt=0, le=1, max_digits=3, decimal_places=2)
    """The share of the determinable amount that advance pays while an investigation is still open. None keeps the
    rules' own."""


class DeclareCatastrophe(Message):
    """The declaration: the start input of `CatastropheWorkflow`, by a manager."""

    code: Identifier
    name: Name
    regions: Annotated[list[Region], Field(min_length=1, max_length=100)]
    starts_at: Timestamp
    ends_at: Timestamp
    claim_types: Annotated[list[ClaimType], Field(min_length=1)]
    rules: CatastropheRules = Field(default_factory=CatastropheRules)
    declared_by: Identifier
    reason: FreeText
    credential: Credential | None = None

    @model_validator(mode="after")
    def _window(self) -> DeclareCatastrophe:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class CloseCatastrophe(Message):
    """A manager closes the catastrophe: no claim joins it any more; those that joined stay as they are."""

    by: Identifier
    reason: FreeText
    credential: Credential | None = None


class CatastropheRef(Message):
    """A claim's catastrophe, as intake found it: its code and rules."""

    code: str
    rules: CatastropheRules


class CatastropheStatus(Message):
    code: str
    name: str
    regions: list[str]
    starts_at: datetime
    ends_at: datetime
    claim_types: list[ClaimType]
    rules: CatastropheRules
    declared_by: str
    declared_at: datetime | None
    state: Literal["declared", "closed"]
    closed_at: datetime | None = None
    closed_by: str | None = None
    open_claims_told: int = 0
    """Open claims that were asked to look at it when it was declared (each joins if the rule says so)."""
    timeline: list[TimelineEntry] = Field(default_factory=list)
