"""The letters' message catalogs: extract every message id, and update the .po files with them.

    .venv/bin/python -m letters.catalogs          # add new ids to each catalog, mark the gone ones obsolete

Translators then fill in each `msgstr` of `letters/locales/<locale>/LC_MESSAGES/messages.po`; tests fail on an
id without a translation (tests/test_letters.py)."""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir, extract_from_file
from babel.messages.pofile import read_po, write_po

from letters.i18n import LANGUAGES, LOCALES

SOURCES = Path(__file__).parent
PAGES = SOURCES.parent / "web" / "templates"
"""The claimant's pages (web/) use this catalog too; extraction reads their files, it imports nothing of them."""
METHODS = [("templates/**.j2", "jinja2"), ("*.py", "python")]
PAGE_METHODS = [("*.html", "jinja2")]
"""The claimant's pages and the staff workbench share the letters' catalog."""
KEYWORDS = {**DEFAULT_KEYWORDS, "N_": None}


def message_ids() -> dict[str, list[tuple[str, int]]]:
    """Every message id in the letters' templates and the activities' code, with where it is used."""
    found: dict[str, list[tuple[str, int]]] = {}
    for needed in (SOURCES / "templates", PAGES, PAGES.parent / "claimant.py"):
        if not needed.exists():
            raise FileNotFoundError(f"{needed}: the catalog's messages are extracted from here; it moved?")
    for directory, methods, prefix in ((SOURCES, METHODS, ""), (PAGES, PAGE_METHODS, "../web/templates/")):
        for filename, line, message, _comments, _context in extract_from_dir(directory, methods, keywords=KEYWORDS):
            if isinstance(message, str) and message:
                found.setdefault(message, []).append((prefix + filename, line))
    for source in sorted(PAGES.parent.glob("*.py")):
        for line, message, _comments, _context in extract_from_file("python", source, keywords=KEYWORDS):
            if isinstance(message, str) and message:
                found.setdefault(message, []).append((f"../web/{source.name}", line))
    return found


def update() -> None:
    ids = message_ids()
    for language in LANGUAGES:
        if language == "en":
            continue  # English is the message ids themselves
        locale = language.replace("-", "_")
        path = LOCALES / locale / "LC_MESSAGES" / "messages.po"
        old = read_po(path.open("rb"), locale=locale) if path.exists() else Catalog(locale=locale)
        new = Catalog(locale=locale, project="claims-orchestrator", version="1", charset="utf-8", fuzzy=False,
                      copyright_holder="the claims-orchestrator authors", last_translator="claims service team")
        for message, places in sorted(ids.items()):
            previous = old.get(message)
            new.add(message, previous.string if previous else "", locations=places)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as out:
            write_po(out, new, width=120, sort_output=True)
        print(f"{path}: {len(ids)} messages, {sum(1 for m in new if m.id and not m.string)} untranslated")  # noqa: T201


if __name__ == "__main__":
    update()
