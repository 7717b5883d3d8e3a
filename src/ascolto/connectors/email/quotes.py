"""What the sender wrote, without the earlier mail their client quoted or their signature.

Heuristics for the common clients: Gmail, Apple Mail and Thunderbird ("On <date>, <name>
wrote:" and its translations), Outlook ("-----Original Message-----", the "From: / Sent:"
block, the underscore rule), and ">" quoted blocks; a signature starts at "-- ". If trimming
would leave nothing (a mail that is all quote), the whole text is kept.
"""

from __future__ import annotations

import re

# A line (or two joined lines) that introduces quoted mail.
QUOTE_HEADERS = [
    # Gmail / Apple Mail / Thunderbird, and the same sentence in the locales we ship and others.
    re.compile(r"^\s*On\b.{0,300}\bwrote:\s*$", re.IGNORECASE | re.DOTALL),
    re.compile(r"^\s*Il giorno\b.{0,300}\bha scritto:\s*$", re.IGNORECASE | re.DOTALL),
    re.compile(r"^\s*Il\b.{0,200}\bha scritto:\s*$", re.IGNORECASE | re.DOTALL),
    re.compile(r"^\s*Am\b.{0,300}\bschrieb.{0,80}:\s*$", re.IGNORECASE | re.DOTALL),
    re.compile(r"^\s*Le\b.{0,300}\ba écrit\s*:\s*$", re.IGNORECASE | re.DOTALL),
    re.compile(r"^\s*El\b.{0,300}\bescribió:\s*$", re.IGNORECASE | re.DOTALL),
    re.compile(r"^\s*Em\b.{0,300}\bescreveu:\s*$", re.IGNORECASE | re.DOTALL),
    re.compile(r"^\s*Op\b.{0,300}\bschreef.{0,80}:\s*$", re.IGNORECASE | re.DOTALL),
    re.compile(r"^\s*בתאריך\b.{0,300}:\s*$", re.DOTALL),
    re.compile(r"^\s*(?:ב|\d).{0,300}כתב(?:ה)?:\s*$", re.DOTALL),
    re.compile(r"^\s*\d{4}[-/.]\d{1,2}[-/.]\d{1,2}.{0,200}<[^>]+@[^>]+>:?\s*$", re.DOTALL),
    # Yandex, Mail.ru and others: a date with a year, the sender's <address>, a colon.
    re.compile(
        r"^\s*(?:\w{2,3},\s*)?\d.{0,200}\b\d{4}\b.{0,200}<[^<>\s]+@[^<>\s]+>\s*:\s*$",
        re.DOTALL,
    ),
    # Any client, any language: a date first, then "<someone> wrote:".
    re.compile(
        r"^\s*\d.{0,300}\b(?:wrote|написал[аи]?|schrieb|a écrit|ha scritto|"
        r"escribió|escreveu|kirjoitti|skrev|napisał[a]?|schreef|έγραψε|yazd\u0131)\s*:\s*$",
        re.IGNORECASE | re.DOTALL,
    ),
]
ORIGINAL_MESSAGE = re.compile(
    r"^\s*-{2,}\s*(?:Original Message|Messaggio originale|Ursprüngliche Nachricht|"
    r"Message d'origine|Mensaje original|Forwarded message|Messaggio inoltrato)\s*-{2,}\s*$",
    re.IGNORECASE,
)
OUTLOOK_RULE = re.compile(r"^\s*_{20,}\s*$")
OUTLOOK_FROM = re.compile(
    r"^\s*\*?(?:From|Da|Von|De|Van|От|מאת)\s*:?\*?\s*:(?:\s|$)", re.IGNORECASE
)
OUTLOOK_NEXT = re.compile(
    r"^\s*\*?(?:Sent|Date|Inviato|Data|Gesendet|Datum|Envoyé|Enviado|Verzonden|To|A|An|"
    r"Subject|Oggetto|Betreff|Отправлено|Дата|Кому|Тема|נשלח|תאריך)\s*:?\*?\s*:",
    re.IGNORECASE,
)
SIGNATURE = re.compile(r"^--\s?$")
MOBILE_SIGNATURE = re.compile(
    r"^\s*(?:Sent from my \w+|Inviato da(?:l mio)? \w+|Von meinem \w+ gesendet|"
    r"Get Outlook for \w+)",
    re.IGNORECASE,
)


def _quote_start(lines: list[str]) -> int | None:
    """Index of the first line that belongs to quoted earlier mail."""
    for index, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            continue
        if ORIGINAL_MESSAGE.match(stripped) or OUTLOOK_RULE.match(stripped):
            return index
        joined = stripped
        for extra in range(3):  # clients wrap the "On ... wrote:" line
            if any(p.match(joined) for p in QUOTE_HEADERS):
                return index
            if index + extra + 1 >= len(lines):
                break
            joined = f"{joined} {lines[index + extra + 1].strip()}"
        if OUTLOOK_FROM.match(stripped):
            # The sender may wrap onto the next line; a Sent/To/Subject line follows closely.
            following = [x for x in lines[index + 1 : index + 6] if x.strip()][:3]
            if any(OUTLOOK_NEXT.match(x) for x in following):
                return index
        if stripped.startswith(">") and _rest_is_quote(lines[index:]):
            return index
    return None


def _rest_is_quote(lines: list[str]) -> bool:
    """A ">" block counts as the quoted tail when the lines after it are quote, blank or a
    signature: a reply interleaved between quotes keeps its quotes."""
    for line in lines:
        stripped = line.strip()
        if not stripped or stripped.startswith(">"):
            continue
        return bool(SIGNATURE.match(line.rstrip("\n")) or MOBILE_SIGNATURE.match(stripped))
    return True


def trim_text(text: str) -> str:
    """The new part of a reply: quoted mail and the signature removed. Never empty when the
    text is not: a mail that is only quote is returned whole."""
    normalized = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = normalized.split("\n")
    cut = _quote_start(lines)
    if cut is not None:
        lines = lines[:cut]
    for index, line in enumerate(lines):
        if SIGNATURE.match(line) or MOBILE_SIGNATURE.match(line.strip()):
            lines = lines[:index]
            break
    trimmed = "\n".join(lines).strip()
    if not trimmed and cut is not None:
        # Bottom-posting: the quote comes first and the reply after it.
        trimmed = _without_quotes(normalized.split("\n"))
    return trimmed or normalized.strip()


def _without_quotes(lines: list[str]) -> str:
    kept: list[str] = []
    skip_header = True
    for line in lines:
        stripped = line.strip()
        if stripped.startswith(">"):
            skip_header = False
            continue
        if skip_header and stripped and any(p.match(stripped) for p in QUOTE_HEADERS):
            continue
        if SIGNATURE.match(line):
            break
        kept.append(line)
    return "\n".join(kept).strip()


HTML_QUOTE_MARKERS = re.compile(
    r"<div[^>]*class=[\"']?[^\"'>]*gmail_quote"
    r"|<blockquote[^>]*type=[\"']?cite"
    r"|<div[^>]*id=[\"']?(?:appendonsend|divRplyFwdMsg|mail-editor-reference-message-container)"
    r"|<div[^>]*class=[\"']?[^\"'>]*(?:yahoo_quoted|moz-cite-prefix|OutlookMessageHeader)"
    r"|<hr[^>]*id=[\"']?stopSpelling"
    r"|-{3,}\s*Original Message\s*-{3,}",
    re.IGNORECASE,
)


def trim_html(html: str) -> str:
    """HTML cut where the known clients start the quoted mail; the caller sanitises the result,
    which also closes the tags the cut left open. A mail that is only quote is kept whole."""
    found = HTML_QUOTE_MARKERS.search(html)
    if found is None:
        return html
    head = html[: found.start()]
    if not re.sub(r"<[^>]+>|&nbsp;|\s", "", head):
        return html
    return head
