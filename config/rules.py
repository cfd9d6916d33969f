"""The tables of business rules (docs/rules.md), with their defaults.

They reach a claim's workflow once, through the `load_rules` activity at its start, so a change of
configuration applies to new claims and never changes how a running claim replays. A JSON file named by
`CLAIMS_RULES_FILE` overrides any top-level key (and any key of `risk` or `sla`).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from config.settings import Settings
from models.messages import ReserveRules, RiskRules, Rules, SlaTable

REQUIRED_DOCUMENTS: dict[str, list[str]] = {
    "auto": ["claim_form", "id_card", "driver_license", "vehicle_license", "accident_report",
             "repair_invoice", "damage_photos"],
    "health": ["claim_form", "id_card", "medical_invoice", "diagnosis_report", "expense_list"],
    "property": ["claim_form", "id_card", "loss_list", "damage_photos", "ownership_proof"],
}
DOCUMENTS_BY_CAUSE: dict[str, dict[str, list[str]]] = {
    "property": {"theft": ["police_report"], "fire": ["fire_report"]},
}
FAST_PATH_DOCUMENTS: dict[str, list[str]] = {
    "auto": ["claim_form", "damage_photos", "repair_invoice"],
    "health": ["claim_form", "medical_invoice"],
    "property": ["claim_form", "damage_photos", "loss_list"],
}
FAST_PATH_LIMITS = {"auto": Decimal("5000"), "health": Decimal("3000"), "property": Decimal("5000")}
AUTHORITY_LIMITS: dict[str, Decimal | None] = {
    "adjuster": Decimal("10000"),
    "supervisor": Decimal("100000"),
    "manager": None,  # unlimited
}

# The clauses letters cite. An insurer replaces these with its own policy wording.
CLAUSES: dict[str, str] = {
    "period_of_cover": "General Terms 2.1 (period of cover)",
    "policy_status": "General Terms 2.2 (policy in force)",
    "product_scope": "General Terms 1.3 (scope of cover by product)",
    "exclusion": "General Terms 4 (exclusions)",
    "waiting_period": "Health Terms 3.1 (waiting period)",
    "assessed_loss": "General Terms 5.1 (indemnity for the assessed loss)",
    "deductible": "Schedule: deductible",
    "payout_ratio": "Schedule: payout ratio",
    "sum_insured": "General Terms 5.3 (limit of indemnity: sum insured)",
    "advance_payment": "Insurance Law art. 25 (advance payment)",
    "below_deductible": "Schedule: deductible",
    "sum_insured_exhausted": "General Terms 5.3 (limit of indemnity: sum insured)",
    "appeal": "Service standard: appeals to a supervisor within 60 days of the decision",
}

STAFF_MAILBOXES = {
    "adjuster": "adjusters@insurer.example",
    "supervisor": "claims-supervisors@insurer.example",
    "manager": "claims-managers@insurer.example",
}
GREEN_CHANNEL_HANDLERS = {
    "auto": ["gc-auto-1", "gc-auto-2"],
    "health": ["gc-health-1", "gc-health-2"],
    "property": ["gc-property-1", "gc-property-2"],
}

# The case reserve at registration (docs/finance.md#reserves): an average cost by claim type or "type/cause", where
# the insurer has one; otherwise the amount claimed. Within the sum insured available, always. And who may set a
# reserve how high: a manager without limit, two managers above the four-eyes threshold.
RESERVES: dict[str, Any] = {
    "initial": {"health": Decimal("6000"), "auto/theft": Decimal("80000")},
    "adjuster": Decimal("50000"),
    "supervisor": Decimal("500000"),
    "four_eyes_above": Decimal("1000000"),
}

# A claim's run continues as new at its next quiet wait past this many history events (the engine's own
# hard limit is 51,200 and it suggests continuing at 4 MiB or 10,240 events by default).
CONTINUE_AFTER_EVENTS = 10_000

SLA_PROFILES: dict[str, dict[str, Any]] = {
    "statutory": {},
    # A day is a second; business days count as days, so a lifecycle can be watched live. The windows a claimant has
    # to answer (the survey, an appeal, a reopening) stay an hour long: a person, or the demo's script on a busy
    # machine, answers within them whatever the machine's speed.
    "demo": {"day_seconds": 1, "business_days_as_days": True, "survey_window_days": 3600,
             "appeal_window_days": 3600, "reopen_window_days": 3600},
}


def _known_kinds() -> list[str]:
    kinds = {k for docs in REQUIRED_DOCUMENTS.values() for k in docs}
    kinds |= {k for by_cause in DOCUMENTS_BY_CAUSE.values() for docs in by_cause.values() for k in docs}
    kinds |= {"medical_record", "invoice", "other", "bank_statement", "witness_statement"}
    return sorted(kinds)


def load_rules(settings: Settings) -> Rules:
    """The rule tables in force for a claim starting now."""
    overrides: dict[str, Any] = {}
    if settings.rules_file is not None:
        overrides = json.loads(settings.rules_file.read_text(encoding="utf-8"))
    sla = {**SLA_PROFILES[settings.sla_profile], **overrides.pop("sla", {})}
    risk = overrides.pop("risk", {})
    reserves = {**RESERVES, **overrides.pop("reserves", {})}
    base: dict[str, Any] = {
        "profile": settings.sla_profile,
        "required_documents": REQUIRED_DOCUMENTS,
        "documents_by_cause": DOCUMENTS_BY_CAUSE,
        "fast_path_documents": FAST_PATH_DOCUMENTS,
        "known_document_kinds": _known_kinds(),
        "fast_path_limits": FAST_PATH_LIMITS,
        "authority_limits": AUTHORITY_LIMITS,
        "dual_manager_threshold": Decimal("500000"),
        "investigation_amount_threshold": Decimal("20000"),
        "clauses": CLAUSES,
        "staff_mailboxes": STAFF_MAILBOXES,
        "green_channel_handlers": GREEN_CHANNEL_HANDLERS,
        "continue_after_events": CONTINUE_AFTER_EVENTS,
        "ocr_task_queue": settings.ocr_task_queue if settings.read_documents else None,
    }
    return Rules.model_validate(
        {**base, **overrides, "risk": RiskRules.model_validate(risk), "sla": SlaTable.model_validate(sla),
         "reserves": ReserveRules.model_validate(reserves)}
    )
