"""Who may send which update, given the verified sender of its credential (docs/rules.md#identity-and-access).

Staff updates need a staff token whose subject is the person the payload names and whose roles include the
role the payload claims; the claimant-side updates need a channel's token. Ids compare case-insensitively.
"""

from __future__ import annotations

from core.rules.authority import person_key
from models.contract import Sender

STAFF_ROLES = frozenset({"adjuster", "investigator", "supervisor", "manager", "finance", "service"})
CHANNEL_ROLE = "channel"
CLAIMANT_SIDE = frozenset({"submit_documents", "withdraw", "appeal", "update_bank_account", "request_code",
                           "survey_response"})
NEEDED_ROLES: dict[str, frozenset[str]] = {
    "record_investigation": frozenset({"investigator", "supervisor", "manager"}),
    "escalate": frozenset({"supervisor", "manager"}),
    "assign": frozenset({"supervisor", "manager"}),
    "release_bank_account": frozenset({"supervisor", "manager"}),
    "record_callback": frozenset({"supervisor", "manager"}),
    "assign_complaint": frozenset({"supervisor", "manager"}),
    "correct_document_field": frozenset({"adjuster", "investigator", "supervisor", "manager"}),
    "record_recovery": frozenset({"finance", "supervisor", "manager"}),
    "write_off_recovery": frozenset({"manager"}),
    "set_reserve": frozenset({"adjuster", "supervisor", "manager"}),
    "open_recovery": frozenset({"adjuster", "supervisor", "manager"}),
    "declare_catastrophe": frozenset({"manager"}),
    "close_catastrophe": frozenset({"manager"}),
}


FILE_COMPLAINT = "file_complaint"
"""A complaint's start: filed by a channel (for the complainant) or by staff."""


def refusal(update: str, sender: Sender, actor: str | None = None, role: str | None = None) -> str | None:
    """Why this sender may not send this update as `actor` in `role`, or None if they may."""
    roles = {r.strip().casefold() for r in sender.roles}
    if update == FILE_COMPLAINT:
        if CHANNEL_ROLE in roles or roles & STAFF_ROLES:
            return None
        return f"a complaint is filed by a channel or a staff member; {sender.subject}'s roles are {sorted(roles)}"
    if update in CLAIMANT_SIDE:
        if CHANNEL_ROLE not in roles:
            return f"{update} is sent by a channel (a token with the role 'channel'), not by {sender.subject}"
        if actor is not None and person_key(actor) != person_key(sender.subject):
            return f"the payload names {actor} but the credential is the channel {sender.subject}'s"
        return None
    if CHANNEL_ROLE in roles or not roles & STAFF_ROLES:
        return f"{update} needs a staff member's token; {sender.subject}'s roles are {sorted(roles)}"
    if actor is not None and person_key(actor) != person_key(sender.subject):
        return f"the payload names {actor} but the credential is {sender.subject}'s"
    if role is not None and (role not in STAFF_ROLES or role not in roles):
        return f"{sender.subject} does not hold the role {role} (the credential's roles: {sorted(roles)})"
    needed = NEEDED_ROLES.get(update)
    if needed and not roles & needed:
        return f"{update} needs one of the roles {sorted(needed)}; {sender.subject} holds {sorted(roles)}"
    return None
