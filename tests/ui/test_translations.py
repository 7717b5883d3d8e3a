"""The shipped translations are complete and compiled, and pages read in the chosen language."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from tests.ui.conftest import login

LOCALE = Path(settings.LOCALE_PATHS[0])


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), text)


def _po_entries(path: Path) -> list[dict[str, object]]:
    """msgid, msgstr forms and flags of each entry of a .po file (header excluded)."""
    entries = []
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        fields: dict[str, list[str]] = {}
        current = ""
        flags = ""
        for line in block.splitlines():
            match = re.match(r'^(msgid_plural|msgid|msgstr(?:\[\d+\])?|msgctxt) "(.*)"$', line)
            if match:
                current = match.group(1)
                fields[current] = [match.group(2)]
            elif line.startswith('"') and current:
                fields[current].append(line[1:-1])
            elif line.startswith("#,"):
                flags = line
        if "msgid" not in fields or fields["msgid"] == [""]:
            continue
        entries.append(
            {
                "msgid": _unescape("".join(fields["msgid"])),
                "msgstr": ["".join(v) for k, v in sorted(fields.items()) if k.startswith("msgstr")],
                "fuzzy": "fuzzy" in flags,
            }
        )
    return entries


@pytest.mark.parametrize("language", ["en", "it", "he"])
def test_every_string_is_translated_and_compiled(language: str) -> None:
    po = LOCALE / language / "LC_MESSAGES" / "django.po"
    mo = LOCALE / language / "LC_MESSAGES" / "django.mo"
    entries = _po_entries(po)
    with mo.open("rb") as handle:
        catalog = gettext.GNUTranslations(handle)._catalog  # type: ignore[attr-defined]
    compiled = {key if isinstance(key, str) else key[0] for key in catalog}

    untranslated = [e["msgid"] for e in entries if not all(e["msgstr"])]  # type: ignore[call-overload]
    fuzzy = [e["msgid"] for e in entries if e["fuzzy"]]
    stale = [e["msgid"] for e in entries if e["msgid"] not in compiled]

    assert len(entries) > 100
    assert untranslated == []
    assert fuzzy == []
    assert stale == [], "run compilemessages: the .mo is older than the .po"


@pytest.mark.django_db
def test_pages_read_in_italian(client: Client, agent) -> None:  # type: ignore[no-untyped-def]
    agent.locale = "it"
    login(client, agent)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "it"

    html = client.get(reverse("customers:list")).content.decode()

    assert '<html lang="it" dir="ltr">' in html
    for text in ("Clienti", "Fascia di valore", "Cerca", "Esci", "Sondaggi"):
        assert text in html
