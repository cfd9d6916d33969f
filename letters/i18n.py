"""Languages of letters and SMS: Babel catalogs, zh-CN by default, English per claimant (`claimant.language`).

Templates and the SMS texts are written with English message ids (`_("...")`); `locales/<locale>/LC_MESSAGES/
messages.po` holds each language's translations, read with Babel when a process starts (no compile step).
English needs no catalog entry: its text is the message id. Every id must have a Chinese translation;
tests/test_letters.py fails on one that has none, and on a template variable that renders empty.

Amounts carry their currency ("¥3,200.00" in Chinese, "CNY 3,200.00" in English) and moments are Beijing
time, the claimant's.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

LOCALES = Path(__file__).parent / "locales"
LANGUAGES = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"
BEIJING = ZoneInfo("Asia/Shanghai")


def N_(message: str) -> str:  # noqa: N802 (gettext's name for "mark for translation, translate later")
    return message


DOCUMENT_KINDS = {
    "claim_form": N_("claim form"), "id_card": N_("ID card"), "driver_license": N_("driver's licence"),
    "vehicle_license": N_("vehicle licence"), "accident_report": N_("accident report"),
    "repair_invoice": N_("repair invoice"), "damage_photos": N_("photos of the damage"),
    "medical_invoice": N_("medical invoice"), "diagnosis_report": N_("diagnosis report"),
    "expense_list": N_("list of expenses"), "loss_list": N_("list of losses"),
    "ownership_proof": N_("proof of ownership"), "police_report": N_("police report"),
    "fire_report": N_("fire brigade report"), "medical_record": N_("medical record"), "invoice": N_("invoice"),
    "other": N_("other document"), "bank_statement": N_("bank statement"),
    "witness_statement": N_("witness statement"),
}
COMPLAINT_CATEGORIES = {"decision": N_("about a decision"), "delay": N_("about the time taken"),
                        "staff": N_("about our staff"), "letter": N_("about a letter"),
                        "payment": N_("about a payment"), "other": N_("other matters")}
CLAIM_TYPES = {"auto": N_("motor"), "health": N_("health"), "property": N_("property")}
STAGES = {"registered": N_("Registered"), "coverage_check": N_("Cover check"),
          "awaiting_documents": N_("Waiting for materials"), "investigating": N_("Under investigation"),
          "adjusting": N_("Assessing"), "awaiting_approval": N_("Waiting for approval"), "paying": N_("Paying"),
          "closed": N_("Closed")}
OUTCOMES = {"paid": N_("Paid"), "denied": N_("Denied"), "withdrawn": N_("Withdrawn"),
            "closed_incomplete": N_("Closed, materials incomplete")}
ROLES = {"adjuster": N_("adjuster"), "supervisor": N_("supervisor"), "manager": N_("manager"),
         "investigator": N_("investigator"), "system": N_("system")}
CLOCKS = {"documents": N_("documents"), "determination": N_("determination"), "investigation": N_("investigation"),
          "approval": N_("approval"), "payment": N_("payment"), "advance_payment": N_("advance payment"),
          "bank_details": N_("bank details"), "denial_notice": N_("denial notice"),
          "appeal_ack": N_("appeal acknowledgement"), "appeal_resolution": N_("appeal resolution"),
          "callback": N_("call-back")}


class EmptyValue(ValueError):
    """A letter would say nothing where a value belongs: refused rather than sent with a blank."""


def catalog(language: str) -> NullTranslations:
    """The language's translations, read from its .po file."""
    if language == "en":
        return NullTranslations()
    locale = language.replace("-", "_")
    with (LOCALES / locale / "LC_MESSAGES" / "messages.po").open("rb") as po:
        parsed = read_po(po, locale=locale)
    compiled = io.BytesIO()
    write_mo(compiled, parsed)
    compiled.seek(0)
    return Translations(fp=compiled)


def money(language: str) -> Callable[[Any], str]:
    def render(value: Any) -> str:
        if value is None or value == "":
            raise EmptyValue("an amount is missing")
        amount = f"{Decimal(str(value)):,.2f}"
        return f"¥{amount}" if language == "zh-CN" else f"CNY {amount}"
    return render


def when(language: str) -> Callable[[Any], str]:
    def render(value: Any) -> str:
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if not isinstance(value, datetime):
            raise EmptyValue(f"a moment is missing ({value!r})")
        local = value.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")
        return local if language == "zh-CN" else f"{local} (Beijing time)"
    return render


def _check_filled(message: str, values: Mapping[str, Any]) -> None:
    empty = sorted(k for k, v in values.items() if v is None or (isinstance(v, str) and not v.strip()))
    if empty:
        raise EmptyValue(f"{message[:50]!r}: no value for {', '.join(empty)}")


def gettext_for(translations: NullTranslations) -> Callable[..., str]:
    """For Python code (the SMS texts): `_("... %(name)s ...", name=value)` translated, then filled. A value that
    is None or empty is an error: the text would have a hole."""

    def gettext(message: str, **values: Any) -> str:
        _check_filled(message, values)
        text = translations.gettext(message)
        return text % values if values else text

    return gettext


def template_gettext(translations: NullTranslations) -> Callable[..., Any]:
    """The templates' `_()`: as `gettext_for`, and in an HTML template the translation is markup while the values
    are escaped into it."""

    @pass_context
    def gettext(context: Context, message: str, **values: Any) -> Any:
        _check_filled(message, values)
        text: Any = translations.gettext(message)
        if context.eval_ctx.autoescape:
            text = Markup(text)
        return text % values if values else text

    return gettext


def filters(language: str, translations: NullTranslations) -> Mapping[str, Callable[..., Any]]:
    def named(names: Mapping[str, str]) -> Callable[[str], str]:
        return lambda key: translations.gettext(names.get(key, key))

    return {"money": money(language), "when": when(language), "document": named(DOCUMENT_KINDS),
            "claim_type": named(CLAIM_TYPES), "role_name": named(ROLES), "clock_name": named(CLOCKS),
            "stage_name": named(STAGES), "outcome_name": named(OUTCOMES),
            "complaint_category": named(COMPLAINT_CATEGORIES)}
