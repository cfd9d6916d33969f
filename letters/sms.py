"""SMS: one or two 70-character segments of plain text with the claim number and the progress page's link
(docs/rules.md#language-and-channels). The full letter goes to the outbox as the record and to e-mail and app
claimants; an SMS claimant reads it on the progress page. Texts are message ids of the letters' catalogs
(letters/i18n.py)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from letters.i18n import BEIJING, N_

SEGMENT = 70
LIMIT = 2 * SEGMENT

TEXTS: dict[str, str] = {
    "acknowledgement": N_("Claim %(claim_id)s received. Progress and materials:"),
    "missing_materials": N_("Claim %(claim_id)s: %(count)s materials needed by %(due)s:"),
    "reminder": N_("Claim %(claim_id)s: materials due %(due)s. Upload:"),
    "closed_incomplete": N_("Claim %(claim_id)s closed: materials not received. Reopen:"),
    "investigation_opened": N_("Claim %(claim_id)s: an investigator will call you:"),
    "decision_approved": N_("Claim %(claim_id)s approved: %(amount)s. Details:"),
    "decision_partial": N_("Claim %(claim_id)s approved in part: %(amount)s. Details:"),
    "decision_denied": N_("Claim %(claim_id)s: decision, reasons and appeal:"),
    "payment_sent": N_("Claim %(claim_id)s: %(amount)s paid to %(account)s. Details:"),
    "payment_failed": N_("Claim %(claim_id)s: payment failed; bank details needed by %(due)s:"),
    "bank_details_reminder": N_("Claim %(claim_id)s: bank details needed by %(due)s:"),
    "payout_reduced": N_("Claim %(claim_id)s: %(amount)s paid, capped by the sum insured:"),
    "withdrawn": N_("Claim %(claim_id)s withdrawn as you asked."),
    "recovery_requested": N_("Claim %(claim_id)s: %(amount)s to repay by %(due)s. Details:"),
    "appeal_received": N_("Claim %(claim_id)s: appeal under review:"),
    "survey": N_("Claim %(claim_id)s closed. Rate our service 1-5:"),
    "code_progress": N_("Code %(code)s shows claim %(claim_id)s, valid %(minutes)s min. Ignore if not you."),
    "code_bank_account": N_("Code %(code)s changes the account of claim %(claim_id)s, valid %(minutes)s min. "
                            "Never share it."),
    "code_bank_account_to": N_("Code %(code)s pays claim %(claim_id)s to an account ending %(last4)s, valid "
                               "%(minutes)s min. Never share it."),
    "complaint_acknowledged": N_("Complaint %(complaint_id)s received; we answer within 72 hours."),
    "complaint_resolved": N_("Complaint %(complaint_id)s: our answer is on its way by letter or e-mail."),
    "bank_account_changed": N_("Claim %(claim_id)s: payment account changed to %(new_account)s. Not you? Call us."),
}
GENERIC = N_("Claim %(claim_id)s: news about your claim:")
UNLINKED = {"withdrawn", "code_progress", "code_bank_account", "code_bank_account_to", "bank_account_changed",
            "complaint_acknowledged",
            "complaint_resolved"}
"""Texts that carry no link: nothing to do on the page, or a code that must stand on its own."""


CODE = re.compile(r"(?:验证码|Code |<strong>)([0-9]{6})")


def code_in(message: str) -> str | None:
    """The one-time code in a code SMS or letter: what the claimant reads on the phone."""
    found = CODE.search(message)
    return found.group(1) if found else None


def short_moment(value: Any) -> str:
    """Month, day and Beijing time: what fits a text message."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return str(moment.astimezone(BEIJING).strftime("%m-%d %H:%M"))


def sms_text(kind: str, context: Mapping[str, Any], gettext: Callable[..., str], filters: Mapping[str, Any],
             link: str) -> str:
    """The SMS of a letter kind, in the gettext's language: the brand, the text and (mostly) the link."""
    values: dict[str, Any] = {"claim_id": context["claim_id"]}
    if "missing" in context:
        values["count"] = str(len(context["missing"]))
        if kind == "missing_materials" and not context["missing"]:
            kind = "reminder"  # nothing left to list: the deadline and the link, never "0 materials needed"
    if kind == "code_bank_account" and context.get("account_last4"):
        kind, values["last4"] = "code_bank_account_to", str(context["account_last4"])
    for key in ("due_at", "amount", "account", "code", "minutes", "new_account", "complaint_id"):
        if key in context and context[key] is not None:
            name = "due" if key == "due_at" else key
            value = context[key]
            values[name] = filters["money"](value) if key == "amount" else (
                short_moment(value) if key == "due_at" else str(value))
    template = TEXTS.get(kind, GENERIC)
    wanted = {k: v for k, v in values.items() if f"%({k})s" in template}
    text = gettext("[Claims] %(text)s", text=gettext(template, **wanted))
    return text if kind in UNLINKED else f"{text} {link}"
