"""The words of a decision in the claimant's language: its reasons, the clauses it cites and the steps of its
payout, which the claim records in English (the history's language, an auditor's), read here into the catalog's
messages with their figures kept. A reason a person typed (a supervisor's rejection) is theirs, shown as typed."""

from __future__ import annotations

import re
from collections.abc import Callable

from babel.support import NullTranslations

from letters.i18n import CLAIM_TYPES, N_

REASONS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"incident on (?P<day>\S+) is outside the period of cover (?P<start>\S+) to (?P<end>\S+)$"),
     N_("the incident on %(day)s is outside the period of cover, %(start)s to %(end)s")),
    (re.compile(r"policy (?P<policy>\S+) was (?P<status>\w+) on (?P<day>\S+)$"),
     N_("policy %(policy)s was not in force on %(day)s")),
    (re.compile(r"a (?P<product>\w+) policy does not cover a (?P<type>\w+) claim$"),
     N_("a %(product)s policy does not cover a %(type)s claim")),
    (re.compile(r"cause '(?P<cause>.+)' is excluded by the policy$"),
     N_("the cause \u201c%(cause)s\u201d is excluded by the policy")),
    (re.compile(r"incident within the (?P<days>\d+)-day waiting period$"),
     N_("the incident is within the %(days)s-day waiting period")),
    (re.compile(r"below deductible$"), N_("the loss is not above the deductible")),
    (re.compile(r"sum insured exhausted$"), N_("the sum insured has been used up")),
    (re.compile(r"appeal not upheld: (?P<reason>.+)$", re.S), N_("appeal not upheld: %(reason)s")),
]
CLAUSES = [N_("General Terms 2.1 (period of cover)"), N_("General Terms 2.2 (policy in force)"),
           N_("General Terms 1.3 (scope of cover by product)"), N_("General Terms 4 (exclusions)"),
           N_("Health Terms 3.1 (waiting period)"), N_("General Terms 5.1 (indemnity for the assessed loss)"),
           N_("Schedule: deductible"), N_("Schedule: payout ratio"),
           N_("General Terms 5.3 (limit of indemnity: sum insured)"),
           N_("Insurance Law art. 25 (advance payment)"),
           N_("Service standard: appeals to a supervisor within 60 days of the decision")]
"""The sample clauses' wording (config/rules.py): an insurer's own wording is shown as written."""
PAYOUT_STEPS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"agreed on appeal review"), N_("agreed on appeal review")),
    (re.compile(r"assessed loss \(amount claimed\)"), N_("assessed loss (the amount claimed)")),
    (re.compile(r"assessed loss \(confirmed by investigation\)"), N_("assessed loss (confirmed by investigation)")),
    (re.compile(r"assessed loss \((?P<count>\d+) line items?\)"), N_("assessed loss (%(count)s items of cost)")),
    (re.compile(r"capped at .*?(?P<figure>\d[\d,]*(?:\.\d+)?)$"),
     N_("limited to the sum insured still available, %(figure)s")),
    (re.compile(r"capped at "), N_("limited to the sum insured still available")),
    (re.compile(r"limited to the amount claimed"), N_("no more than the amount claimed")),
    (re.compile(r"less advance payments"), N_("less the advance payments")),
    (re.compile(r"less deductible (?P<figure>\S+)$"), N_("less the deductible, %(figure)s")),
    (re.compile(r"times payout ratio (?P<figure>\S+)$"), N_("times the payout ratio, %(figure)s")),
]


Patterns = list[tuple[re.Pattern[str], str]]


def read_with(patterns: Patterns, translations: NullTranslations,
              value_name: Callable[[str, str], str]) -> Callable[[str], str | None]:
    """A reader of the record's English: the first pattern that matches gives the message, translated, filled with
    the values it caught (each named by `value_name(field, value)`); None when no pattern matches."""
    def read(text: str) -> str | None:
        for pattern, message in patterns:
            found = pattern.match(text.strip())
            if found:
                values = {k: value_name(k, v) for k, v in found.groupdict().items()}
                return translations.gettext(message) % values if values else translations.gettext(message)
        return None
    return read


def _reader(patterns: Patterns, translations: NullTranslations) -> Callable[[str], str]:
    read = read_with(patterns, translations, lambda _, value: translations.gettext(CLAIM_TYPES.get(value, value)))
    return lambda text: read(text) or text


def decision_reason(translations: NullTranslations) -> Callable[[str], str]:
    """A decision's reason in the catalog's language; one it does not know (typed by a person) as it is."""
    return _reader(REASONS, translations)


def payout_step(translations: NullTranslations) -> Callable[[str], str]:
    """A step of the payout's basis in the catalog's language, with the figure it ends on."""
    return _reader(PAYOUT_STEPS, translations)


def clause_name(translations: NullTranslations) -> Callable[[str], str]:
    return lambda clause: translations.gettext(clause) if clause in CLAUSES else clause
