"""Letters, reports and trails drawn from templates: one jinja2 setup, and the renderer that writes a claimant's
letter in Chinese or English with the short text an SMS carries."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from letters.i18n import DEFAULT_LANGUAGE, LANGUAGES, catalog, filters, gettext_for, template_gettext
from letters.sms import sms_text

TEMPLATES = Path(__file__).parent / "templates"


def _money(value: Any) -> str:
    return f"{float(value):,.2f}" if value is not None else "-"


def _when(value: Any) -> str:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.strftime("%Y-%m-%d %H:%M %Z").strip() if isinstance(value, datetime) else str(value)


def template_env(directory: Path = TEMPLATES) -> Environment:
    """The one jinja2 setup for letters, reports and trails: HTML-escaped, and a missing field is an error,
    never a blank."""
    env = Environment(loader=FileSystemLoader(directory), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["money"] = _money
    env.filters["when"] = _when
    return env


class Renderer:
    """Letters: a subject line and an HTML body per kind, in Chinese or English (letters/i18n.py), and the
    short text an SMS carries. `public_url` is where claimants open their progress page."""

    def __init__(self, directory: Path = TEMPLATES, public_url: str = "http://127.0.0.1:8000") -> None:
        self.public_url = public_url.rstrip("/")
        self.envs: dict[str, Environment] = {}
        self.gettext: dict[str, Callable[..., str]] = {}
        for language in LANGUAGES:
            translations = catalog(language)
            env = template_env(directory)
            env.filters.update(filters(language, translations))
            env.globals.update(_=template_gettext(translations), language=language)
            self.envs[language] = env
            self.gettext[language] = gettext_for(translations)

    def context(self, claim_id: str, values: dict[str, Any], language: str) -> dict[str, Any]:
        progress = f"{self.public_url}/c/{claim_id}" + ("?lang=en" if language == "en" else "")
        return {"claim_id": claim_id, "progress_url": progress,
                "workbench_url": f"{self.public_url}/app/claims/{claim_id}", **values}

    def render(self, kind: str, context: dict[str, Any], language: str = DEFAULT_LANGUAGE) -> tuple[str, str]:
        template = self.envs[language].get_template(f"{kind}.html.j2")
        context = self.context(context["claim_id"], context, language)
        subject = "".join(template.blocks["subject"](template.new_context(context))).strip()
        return subject, template.render(context)

    def sms(self, kind: str, context: dict[str, Any], language: str = DEFAULT_LANGUAGE) -> str:
        context = self.context(context["claim_id"], context, language)
        return sms_text(kind, context, self.gettext[language], self.envs[language].filters, context["progress_url"])
