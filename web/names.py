"""What the staff pages call things, and how they show money and time (Beijing time, to the minute): the name
tables and filters the workbench's templates and the sign-in page use, in the staff member's language.

Every name is an English message id (`N_`) translated by the catalog the letters and the claimant pages share
(letters/locales): Chinese by default, English for staff who switch to it. The claim's own record (its timeline's
details, its refusals) is written in English for auditors; `staff_words` reads the common ones into the page's
language, with their figures kept (letters/reasons.py does the same for a decision's reasons)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.support import NullTranslations

from letters import reasons
from letters.i18n import CLAIM_TYPES, CLOCKS, DOCUMENT_KINDS, N_, OUTCOMES, STAGES, catalog

SHANGHAI = ZoneInfo("Asia/Shanghai")

ROLE_NAMES = {"system": N_("system"), "adjuster": N_("adjuster"), "supervisor": N_("supervisor"),
              "manager": N_("manager"), "investigator": N_("investigator"), "finance": N_("finance"),
              "service": N_("customer service"), "auditor": N_("auditor"), "channel": N_("channel")}
RISK_NAMES = {"low": N_("low"), "medium": N_("medium"), "high": N_("high")}
QUEUE_NAMES = {"service": N_("Customer service"), "investigator": N_("Investigation"), "adjuster": N_("Adjusting"),
               "supervisor": N_("Supervisor approval"), "manager": N_("Manager approval"),
               "finance": N_("Finance payments")}
RECOVERY_REASON_NAMES = {"advances beyond the amount decided": N_("advances beyond the amount decided"),
                         "paid on a claim closed denied": N_("paid on a claim closed denied"),
                         "paid on a claim closed withdrawn": N_("paid on a claim closed withdrawn"),
                         "paid on a claim closed closed_incomplete": N_("paid on a claim closed incomplete"),
                         "third party at fault: what the claim paid is recovered from them or their insurer": N_(
                             "third party at fault: what the claim paid is recovered from them or their insurer")}
RECOVERY_KIND_NAMES = {"overpayment": N_("owed back by the claimant"), "subrogation": N_("subrogation"),
                       "salvage": N_("salvage")}
RECOVERY_STATUS_NAMES = {"open": N_("being recovered"), "recovered": N_("recovered"),
                         "written_off": N_("written off"), "set_off": N_("set off")}
LETTER_NAMES = {
    "acknowledgement": N_("acknowledgement"), "appeal_received": N_("appeal received"),
    "bank_account_changed": N_("bank account changed"), "bank_details_reminder": N_("bank details reminder"),
    "closed_incomplete": N_("closed, materials incomplete"), "decision_denied": N_("denial letter"),
    "decision_partial": N_("partial payment letter"), "investigation_opened": N_("investigation notice"),
    "missing_materials": N_("materials request"), "payment_failed": N_("payment failed"),
    "payment_sent": N_("payment sent"), "payout_reduced": N_("payout reduced"),
    "recovery_requested": N_("repayment request"), "reminder": N_("materials reminder"),
    "survey": N_("satisfaction survey"), "withdrawn": N_("withdrawal notice"),
    "code_progress": N_("progress code"), "code_bank_account": N_("bank account code"),
    "subrogation_demand": N_("subrogation demand to the other insurer"),
}
EVENT_NAMES = {
    "registered": N_("claim registered"), "triaged": N_("triaged"), "acknowledged": N_("acknowledged"),
    "documents_requested": N_("materials requested, once"), "documents_submitted": N_("materials received"),
    "documents_complete": N_("materials complete"), "documents_overdue": N_("materials overdue"),
    "document_read": N_("document read by machine"), "document_corrected": N_("reading corrected"),
    "investigation_opened": N_("investigation opened"), "investigation_recorded": N_("investigation findings"),
    "risk_rescored": N_("risk scored again"), "payout_computed": N_("payout computed"), "approved": N_("approved"),
    "rejected": N_("rejected"), "decided": N_("decision taken"), "advance_payment": N_("advance paid"),
    "advance_approved": N_("advance approved"), "advance_refused": N_("advance refused"),
    "advance_overpaid": N_("advances above the payout"), "statutory_advance_due": N_("statutory advance due"),
    "statutory_advance_held": N_("statutory advance held"), "paid": N_("paid"),
    "payment_failed": N_("payment failed"), "payment_reduced": N_("payment reduced"),
    "withdrawal_requested": N_("withdrawal requested"), "appeal_received": N_("appeal received"),
    "reopened": N_("reopened"), "escalated": N_("escalated"), "assigned": N_("handler assigned"),
    "sla_warning": N_("deadline warning"), "sla_breached": N_("deadline missed"),
    "continued_as_new": N_("continued in a new run"), "code_sent": N_("code sent"),
    "code_refused": N_("wrong code"), "bank_account_code_refused": N_("wrong code (bank account change)"),
    "bank_account_locked": N_("bank account changes locked"),
    "bank_account_released": N_("bank account changes released"),
    "bank_account_updated": N_("bank account changed"), "notification_failed": N_("letter not sent"),
    "survey_response": N_("survey answered"), "callback_opened": N_("call-back arranged"),
    "callback_done": N_("call-back made"), "recovery_opened": N_("recovery opened"),
    "recovery_set_off": N_("money owed back set off"), "recovery_received": N_("money received on a recovery"),
    "recovery_written_off": N_("recovery written off"), "reserve_set": N_("reserve set"),
    "reserve_proposed": N_("reserve proposed for a second manager"),
}
"""The timeline's events; `stage:` and `notified:` events are named from the stage or the letter."""
RISK_RULE_NAMES = {
    "frequent_claims": N_("several claims in a short time"), "high_claim": N_("a large amount"),
    "id_name_mismatch": N_("ID card name does not match"), "late_report": N_("reported late"),
    "new_policy": N_("incident soon after the policy started"),
    "reused_document": N_("a document used by another claim"),
    "document_date_before_incident": N_("a document dated before the incident"),
    "document_date_outside_policy": N_("a document dated outside the policy period"),
    "invoice_total_mismatch": N_("invoice total does not match"),
    "reused_invoice": N_("an invoice used by another claim"),
}
FIELD_NAMES = {
    "invoice_number": N_("invoice number"), "date": N_("date of issue"), "issuer": N_("issuer"),
    "tax_id": N_("taxpayer number"), "total": N_("total"), "admission_date": N_("admission date"),
    "diagnosis_date": N_("diagnosis date"), "accident_date": N_("accident date"), "place": N_("place"),
    "name": N_("name"), "id_number": N_("ID number"), "items": N_("items of cost"),
}
PATHS = {"fast": N_("fast path"), "standard": N_("standard path"), "green": N_("green channel")}

DETAILS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(?P<type>\w+) claim on policy (?P<policy>\S+) for (?P<amount>[\d.]+)$"),
     N_("%(type)s claim on policy %(policy)s for %(amount)s")),
    (re.compile(r"(?P<type>\w+) claim on policy (?P<policy>\S+)$"), N_("%(type)s claim on policy %(policy)s")),
    (re.compile(r"risk (?P<score>\d+) \((?P<level>\w+)\); (?P<path>\w+) path.*$"),
     N_("risk %(score)s (%(level)s); %(path)s")),
    (re.compile(r"risk (?P<score>\d+) \((?P<level>\w+)\): .*$"), N_("risk %(score)s (%(level)s)")),
    (re.compile(r"payout (?P<amount>[\d.]+)$"), N_("payout %(amount)s")),
    (re.compile(r"(?P<kind>approved|partial): (?P<amount>[\d.]+)$"), N_("%(kind)s: %(amount)s")),
    (re.compile(r"(?P<amount>[\d.]+) to (?P<account>\S+) \((?P<reference>[^)]+)\)$"),
     N_("%(amount)s to %(account)s (%(reference)s)")),
    (re.compile(r"(?P<purpose>progress|bank_account) code (?P<number>\d+) by (?P<channel>\w+)$"),
     N_("code %(number)s by %(channel)s")),
    (re.compile(r"(?P<clock>\w+) due (?P<at>\S+); owner (?P<owner>\w+)$"), N_("%(clock)s due %(at)s; %(owner)s")),
    (re.compile(r"(?P<clock>\w+) was due (?P<at>\S+?)(?:;.*)?$"), N_("%(clock)s was due %(at)s")),
    (re.compile(r"handler (?P<who>\S+)$"), N_("handler %(who)s")),
    (re.compile(r"green channel: dedicated handler (?P<who>\S+)$"), N_("green channel: handler %(who)s")),
    (re.compile(r"score (?P<score>\d)$"), N_("score %(score)s")),
    (re.compile(r"score (?P<score>\d): .*$"), N_("score %(score)s: a supervisor who took no part calls back")),
    (re.compile(r"claimant reached$"), N_("claimant reached")),
    (re.compile(r"not reached$"), N_("claimant not reached")),
    (re.compile(r"confirmed (?P<amount>\S+); fraud suspected: (?P<fraud>True|False)$"),
     N_("confirmed loss %(amount)s; fraud suspected: %(fraud)s")),
    (re.compile(r"one request for: (?P<kinds>.+)$"), N_("one request for: %(kinds)s")),
    (re.compile(r"still missing: (?P<kinds>.+)$"), N_("still missing: %(kinds)s")),
    (re.compile(r"(?P<kinds>[a-z_]+(?:, [a-z_]+)*)$"), "%(kinds)s"),  # the kinds received: their names alone
    (re.compile(r"code (?P<result>\w+); (?P<left>\d+) tries left$"), N_("wrong code; %(left)s tries left")),
    (re.compile(r"(?P<count>\d+) wrong codes$"), N_("%(count)s wrong codes")),
    (re.compile(r"account (?P<account>\S+)$"), N_("account %(account)s")),
    (re.compile(r"advance of (?P<amount>[\d.]+)$"), N_("advance of %(amount)s")),
    (re.compile(r"appeal not upheld$"), N_("appeal not upheld")),
    (re.compile(r"(?P<document>\w+) (?P<field>\w+) read with confidence (?P<confidence>[\d.]+)$"),
     N_("%(document)s: %(field)s read with confidence %(confidence)s")),
    (re.compile(r"(?P<document>\w+) (?P<field>\w+) not found$"), N_("%(document)s: %(field)s not found")),
]
"""The timeline's details the workflow writes, read into the page's language; a person's own words (a comment, a
reason) are shown as they were typed."""
SYSTEM_DETAILS = frozenset({
    "registered", "triaged", "documents_requested", "documents_overdue", "documents_submitted", "payout_computed",
    "decided", "paid", "payment_reduced", "code_sent", "bank_account_code_refused", "bank_account_locked",
    "bank_account_updated", "sla_warning", "sla_breached", "assigned", "survey_response", "callback_opened",
    "callback_done", "investigation_recorded", "risk_rescored", "advance_payment", "document_review"})
"""The events whose details the workflow writes itself: only these are read into words."""
REFUSALS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"set_reserve: (?P<role>\w+) may set a reserve up to (?P<limit>[\d.]+).*$"),
     N_("a %(role)s may set a reserve up to %(limit)s: a higher reserve authority sets this one")),
    (re.compile(r"set_reserve: (?P<amount>[\d.]+) is less than the (?P<committed>[\d.]+) decided.*$"),
     N_("the reserve must cover the %(committed)s decided or on its way to the claimant")),
    (re.compile(r"open_recovery: (?P<amount>[\d.]+) is more than the claim costs \((?P<cost>[\d.]+).*$"),
     N_("a recovery brings back at most what the claim cost (%(cost)s)")),
    (re.compile(r"\w+: (?P<role>\w+) may decide up to (?P<limit>[\d.]+);.* of the catastrophe team$"),
     N_("a %(role)s may decide up to %(limit)s: a %(role)s of the catastrophe team may decide this claim")),
    (re.compile(r"\w+: (?P<role>\w+) may decide up to (?P<limit>[\d.]+).*$"),
     N_("a %(role)s may decide up to %(limit)s: this claim needs a higher authority")),
    (re.compile(r".*four-eyes.*$"), N_("the four-eyes rule: you took part in this claim, so another person decides")),
    (re.compile(r".*needs a (?P<role>\w+)'s approval.*$"), N_("this claim needs a %(role)s's approval")),
    (re.compile(r".*needs one of the roles \['(?P<role>\w+)'.*$"), N_("this needs a %(role)s")),
    (re.compile(r"\w+: the claim is (?:closed|not awaiting).*$"), N_("the claim is not waiting for this any more")),
    (re.compile(r".*(?:credential|token|expired).*$"), N_("your sign-in has expired: sign in again")),
]
REFUSAL_KINDS = {"NotAuthorized": N_("you may not do this on this claim"),
                 "NotAllowedInStage": N_("the claim is not at a stage that takes this"),
                 "NotAuthenticated": N_("your sign-in has expired: sign in again"),
                 "InvalidUpdate": N_("the form has a value the claim cannot take: check it and send it again")}
"""A refusal no pattern reads, by its typed kind (`ErrorType`)."""


def money(amount: Any) -> str:
    return "—" if amount is None else f"¥{amount:,.2f}"


def when(moment: datetime | None) -> str:
    """A moment as staff and claimants read it: Beijing time, to the minute (2026-12-05 08:44)."""
    return "—" if moment is None else moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def _name(table: Mapping[str, str], translations: NullTranslations) -> Callable[[Any], str]:
    def name(key: Any) -> str:
        key = getattr(key, "value", key)
        return "—" if key is None else translations.gettext(table.get(str(key), str(key)))
    return name


def staff_words(language: str) -> dict[str, Callable[..., Any]]:
    """The workbench's filters in this language: names of stages, roles, events, clocks, documents and the rest,
    money and time, and the timeline's details and the workflow's refusals read into words."""
    translations = catalog(language)
    document = _name(DOCUMENT_KINDS, translations)
    clock = _name(CLOCKS, translations)
    stage = _name(STAGES, translations)
    letter = _name(LETTER_NAMES, translations)
    role = _name(ROLE_NAMES, translations)
    names: dict[str, Callable[[str], str]] = {
             "type": _name(CLAIM_TYPES, translations), "level": _name(RISK_NAMES, translations),
             "path": _name(PATHS, translations), "clock": clock, "owner": role, "role": role, "fraud": lambda v: (
                 translations.gettext(N_("yes")) if v == "True" else translations.gettext(N_("no"))),
             "channel": lambda v: v.upper() if v == "sms" else translations.gettext(N_("e-mail")),
             "kinds": lambda v: "、".join(document(k) for k in v.split(", ")) if language == "zh-CN"
             else ", ".join(document(k) for k in v.split(", ")),
             "at": lambda v: when(datetime.fromisoformat(v)), "document": document,
             "field": _name(FIELD_NAMES, translations), "kind": lambda v: translations.gettext(
                 N_("approved in full") if v == "approved" else N_("approved in part"))}

    def value_name(key: str, value: str) -> str:
        return names[key](value) if key in names else value

    detail_of = reasons.read_with(DETAILS, translations, value_name)
    refusal_of = reasons.read_with(REFUSALS, translations, value_name)

    def event(name: str) -> str:
        kind, _, what = name.partition(":")
        if kind == "stage" and what:
            return translations.gettext(N_("entered: %(stage)s")) % {"stage": stage(what)}
        if kind == "notified" and what:
            return translations.gettext(N_("claimant told: %(letter)s")) % {"letter": letter(what)}
        return translations.gettext(EVENT_NAMES.get(name, name))

    def detail(text: str | None, event: str = "") -> str:
        """A timeline entry's detail in words when the system wrote it; a person's own words (an appeal, a
        reason, a comment) as they were typed, whatever they look like."""
        if not text:
            return ""
        return (detail_of(text) or text) if event in SYSTEM_DETAILS else text

    def refusal(kind: str | None, text: str) -> str:
        read = refusal_of(text)
        if read is not None:
            return read
        return translations.gettext(REFUSAL_KINDS.get(kind or "", N_("the claim did not take this")))

    def risk_rule(rule: str) -> str:
        return translations.gettext(RISK_RULE_NAMES.get(rule, rule))

    return {"money": money, "when": when, "local": when, "stage_name": stage,
            "outcome_name": _name(OUTCOMES, translations),
            "role_name": role, "type_name": names["type"], "risk_name": names["level"], "path_name": names["path"],
            "document_name": document, "field_name": _name(FIELD_NAMES, translations), "clock_name": clock,
            "queue_name": _name(QUEUE_NAMES, translations), "event_name": event, "detail": detail,
            "refusal": refusal, "risk_rule": risk_rule,
            "recovery_reason": _name(RECOVERY_REASON_NAMES, translations),
            "recovery_status": _name(RECOVERY_STATUS_NAMES, translations),
            "recovery_kind": _name(RECOVERY_KIND_NAMES, translations),
            "payout_step": reasons.payout_step(translations), "clause_name": reasons.clause_name(translations),
            "decision_reason": reasons.decision_reason(translations)}


