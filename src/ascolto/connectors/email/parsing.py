"""Raw RFC 5322 bytes -> a `ParsedEmail`, with the stdlib `email` package (policy.default).

Tolerant by contract: real mail declares charsets it does not use, names charsets Python does
not know, breaks MIME boundaries and puts raw 8-bit bytes in headers. Anything that has a
header block parses; text that cannot be decoded as declared is decoded as UTF-8, then
Windows-1252, never dropped. `EmailParseError` is raised only for input that is not an email
at all (no header fields).
"""

from __future__ import annotations

import codecs
import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from email import policy
from email.header import decode_header
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr, parsedate_to_datetime

from ascolto.connectors.email.quotes import trim_html, trim_text
from ascolto.core.sanitize import html_to_text, sanitize_html

MSGID_RE = re.compile(r"<[^<>\s]+>")
HEADER_LINE_RE = re.compile(rb"^[!-9;-~]+:", re.MULTILINE)

# Labels mail software writes that Python's codec registry does not know (or knows wrongly).
CHARSET_ALIASES = {
    "iso-8859-8-i": "iso-8859-8",
    "iso-8859-6-i": "iso-8859-6",
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "unicode-1-1-utf-7": "utf-7",
    "x-mac-cyrillic": "mac_cyrillic",
    "gb2312": "gb18030",  # a superset: mail labelled gb2312 often uses gbk characters
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "x-sjis": "shift_jis",
    "windows-874": "cp874",
    "x-user-defined": "latin-1",
    "unknown-8bit": "utf-8",
    "us-ascii": "utf-8",  # ascii declared over 8-bit text: utf-8 is the usual truth
    "ascii": "utf-8",
    "iso-8859-1": "cp1252",  # windows-1252 is what senders mean (curly quotes, euro sign)
    "latin1": "cp1252",
}

AUTO_PRECEDENCE = {"bulk", "junk", "list", "auto_reply"}
# Out-of-office subjects of clients that send no Auto-Submitted header (Outlook, in languages).
AUTO_SUBJECT_RE = re.compile(
    r"^\s*(?:Automatic reply|Auto(?:matic)?[- ]?reply|Out of (?:the )?office|"
    r"Risposta automatica|Automatische Antwort|Réponse automatique|Respuesta automática|"
    r"Automatyczna odpowied[źz]|Resposta automática|תשובה אוטומטית)\b",
    re.IGNORECASE,
)


class EmailParseError(ValueError):
    """The bytes are not an email message."""


@dataclass
class ParsedAttachment:
    filename: str
    content_type: str
    content: bytes
    inline: bool = False
    content_id: str = ""


@dataclass
class BounceReport:
    """A delivery status notification (RFC 3464): who failed and the message it was about."""

    failed_recipients: list[str] = field(default_factory=list)
    status: str = ""
    diagnostic: str = ""
    original_message_id: str = ""


@dataclass
class ParsedEmail:
    message_id: str
    subject: str
    from_name: str
    from_address: str
    to: list[str]
    cc: list[str]
    reply_to: list[str]
    delivered_to: list[str]
    in_reply_to: list[str]
    references: list[str]
    date: dt.datetime | None
    text: str  # the whole plain text, quotes included
    html: str  # sanitised, the whole message
    visible_text: str  # without the quoted earlier mail and the signature
    visible_html: str
    attachments: list[ParsedAttachment]
    automatic: str  # why the mail was written by a machine, "" for a person
    bounce: BounceReport | None
    synthetic_id: bool = False  # the mail had no Message-ID; one was derived from its bytes
    defects: list[str] = field(default_factory=list)


def parse_email(raw: bytes) -> ParsedEmail:
    """Parse one message. Raises EmailParseError when `raw` has no header block."""
    data = _normalise(raw)
    if not HEADER_LINE_RE.search(data.split(b"\n\n", 1)[0]):
        raise EmailParseError("This is not an email message: it has no header fields.")
    message = BytesParser(policy=policy.default).parsebytes(data)
    if not any(message.keys()):
        raise EmailParseError("This is not an email message: it has no header fields.")
    assert isinstance(message, EmailMessage)

    message_ids = _message_ids(header(message, "Message-ID"))
    synthetic = not message_ids
    message_id = message_ids[0] if message_ids else _synthetic_id(data)
    from_name, from_address = _first_address(header(message, "From"))
    if not from_address:
        from_name, from_address = _first_address(header(message, "Sender"))

    texts: list[str] = []
    htmls: list[str] = []
    attachments: list[ParsedAttachment] = []
    _walk(message, texts, htmls, attachments)
    text = "\n\n".join(t.strip("\n") for t in texts if t.strip())
    raw_html = "\n".join(htmls)
    html = sanitize_html(raw_html) if raw_html else ""
    # Quotes are found in the HTML as sent: sanitising drops the classes that mark them.
    visible_html = sanitize_html(trim_html(raw_html)) if raw_html else ""
    if not text and html:
        text = html_to_text(html)
        visible_text = trim_text(html_to_text(visible_html))
    else:
        visible_text = trim_text(text)

    date = None
    try:
        raw_date = header(message, "Date")
        date = parsedate_to_datetime(raw_date) if raw_date else None
        if date is not None and date.tzinfo is None:
            date = date.replace(tzinfo=dt.UTC)
    except (TypeError, ValueError, IndexError, OverflowError):
        date = None

    bounce = _bounce_report(message)
    return ParsedEmail(
        message_id=message_id[:255],
        subject=" ".join(header(message, "Subject").split())[:300],
        from_name=from_name,
        from_address=from_address,
        to=_addresses(header(message, "To")),
        cc=_addresses(header(message, "Cc")),
        reply_to=_addresses(header(message, "Reply-To")),
        delivered_to=_addresses(
            ", ".join([header(message, "Delivered-To"), header(message, "X-Original-To")])
        ),
        in_reply_to=_message_ids(header(message, "In-Reply-To")),
        references=_message_ids(header(message, "References")),
        date=date,
        text=text,
        html=html,
        visible_text=visible_text,
        visible_html=visible_html,
        attachments=attachments,
        automatic=_automatic(message, bounce),
        bounce=bounce,
        synthetic_id=synthetic,
        defects=[type(d).__name__ for d in message.defects],
    )


def peek_message_id(raw: bytes) -> str:
    """The Message-ID `parse_email` would give `raw`, from its header block alone: a cheap
    check whether a redelivered message is already stored. "" when `raw` is not mail."""
    data = _normalise(raw)
    if not HEADER_LINE_RE.search(data.split(b"\n\n", 1)[0]):
        return ""
    headers = BytesParser(policy=policy.compat32).parsebytes(data, headersonly=True)
    ids = _message_ids(str(headers.get("Message-ID", "") or ""))
    return (ids[0] if ids else _synthetic_id(data))[:255]


def _synthetic_id(data: bytes) -> str:
    return f"<{hashlib.sha256(data).hexdigest()[:40]}@no-message-id.invalid>"


def _normalise(raw: bytes) -> bytes:
    """Drop what wraps a message but is not part of it: a leading mbox "From " line, leading
    blank lines, CR-only line ends."""
    data = raw.lstrip(b" \t\r\n")
    if data.startswith(b"From ") and not data.startswith(b"From :"):
        first_end = data.find(b"\n")
        if first_end != -1 and b":" not in data[:first_end].split(b" ", 1)[0]:
            data = data[first_end + 1 :]
    if b"\r" in data and b"\n" not in data:
        data = data.replace(b"\r", b"\n")
    return data


def header(message: Message, name: str) -> str:
    """A header's decoded value, "" when absent. Never raises: raw 8-bit bytes (mail that
    skipped RFC 2047) are read as UTF-8, else Windows-1252; a value the header registry
    cannot parse is returned as written."""
    if name not in message:  # cheap: no header parsing for absent fields
        return ""
    try:
        value = message.get(name)
    except Exception:  # a header the registry chokes on: fall back to its raw form
        value = None
        for key, raw_value in message.raw_items():
            if key.lower() == name.lower():
                value = raw_value
                break
    if value is None:
        return ""
    text = str(value)
    if "\ufffd" in text or any("\udc80" <= ch <= "\udcff" for ch in text):
        text = _decode_raw_header(message, name) or text
    return text.replace("\x00", "").strip()


def _decode_raw_header(message: Message, name: str) -> str:
    """Decode a header the registry could not: encoded words in charsets Python does not
    know by that label (iso-8859-8-i, ks_c_5601-1987), or raw 8-bit bytes."""
    raw = next((v for k, v in message.raw_items() if k.lower() == name.lower()), None)
    if raw is None:
        return ""
    raw = re.sub(r"\r?\n[ \t]", " ", str(raw))
    try:
        chunks = decode_header(raw)
    except Exception:
        return _redecode(raw.encode("utf-8", "surrogateescape"))
    parts = []
    for chunk, charset in chunks:
        if isinstance(chunk, str):
            parts.append(_redecode(chunk.encode("utf-8", "surrogateescape")))
        else:
            parts.append(decode_text(chunk, charset))
    return "".join(parts)


def _redecode(data: bytes) -> str:
    for codec in ("utf-8", "cp1252"):
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _message_ids(value: str) -> list[str]:
    found = MSGID_RE.findall(value)
    if not found and value.strip() and " " not in value.strip():
        found = [f"<{value.strip().strip('<>')}>"]
    return [m[:255] for m in found]


def _first_address(value: str) -> tuple[str, str]:
    name, address = parseaddr(value)
    address = address.strip().lower()
    if "@" not in address:
        return name, ""
    return name.strip(), address


def _addresses(value: str) -> list[str]:
    return [a.strip().lower() for _n, a in getaddresses([value]) if "@" in a]


def _codec(charset: str | None) -> str | None:
    if not charset:
        return None
    label = charset.strip().strip('"').lower()
    label = CHARSET_ALIASES.get(label, label)
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def decode_text(payload: bytes, charset: str | None) -> str:
    """Bytes of a text part in the charset it declares; undeclared, unknown or wrong: UTF-8,
    then Windows-1252, then Latin-1 (which decodes anything)."""
    candidates = [c for c in (_codec(charset), "utf-8", "cp1252") if c]
    for codec in dict.fromkeys(candidates):
        try:
            return payload.decode(codec)
        except (UnicodeDecodeError, LookupError):
            continue
    return payload.decode("latin-1")


def _part_bytes(part: Message) -> bytes:
    try:
        payload = part.get_payload(decode=True)
    except Exception:  # a broken transfer encoding: take the bytes as they are
        payload = None
    if isinstance(payload, bytes):
        return payload
    raw = part.get_payload()
    if isinstance(raw, str):
        return raw.encode("utf-8", "surrogateescape")
    return b""


def _children(part: Message) -> list[Message]:
    payload = part.get_payload()
    if not isinstance(payload, list):
        return []
    return [child for child in payload if isinstance(child, Message)]


def _filename(part: Message) -> str:
    try:
        name = part.get_filename() or ""
    except Exception:
        name = ""
    if any("\udc80" <= ch <= "\udcff" for ch in name):
        name = _redecode(name.encode("utf-8", "surrogateescape"))
    # Only the last path component: "../../etc/passwd" is a name, never a path.
    name = re.split(r"[\\/]", name.replace("\x00", ""))[-1].strip()
    return name[:200]


def _walk(
    part: Message,
    texts: list[str],
    htmls: list[str],
    attachments: list[ParsedAttachment],
) -> None:
    ctype = part.get_content_type()
    if part.is_multipart():
        children = _children(part)
        if ctype == "multipart/alternative":
            _walk_alternative(children, texts, htmls, attachments)
            return
        if ctype == "multipart/report":
            # The human-readable first part is the text; the status and the returned message
            # are kept as attachments for the agent.
            for index, child in enumerate(children):
                if index == 0:
                    _walk(child, texts, htmls, attachments)
                else:
                    _as_attachment(child, attachments)
            return
        for child in children:
            _walk(child, texts, htmls, attachments)
        return
    disposition = (part.get_content_disposition() or "").lower()
    filename = _filename(part)
    is_body_text = ctype in ("text/plain", "text/html") and disposition != "attachment"
    if is_body_text and not (filename and disposition == "inline" and ctype != "text/plain"):
        content = decode_text(_part_bytes(part), part.get_content_charset())
        (htmls if ctype == "text/html" else texts).append(content)
        return
    if ctype == "message/rfc822" or ctype.startswith("message/"):
        _as_attachment(part, attachments)
        return
    _as_attachment(part, attachments)


def _walk_alternative(
    children: list[Message],
    texts: list[str],
    htmls: list[str],
    attachments: list[ParsedAttachment],
) -> None:
    """Text from the plain alternative, HTML from the HTML one (or the related part holding
    it), so both renderings of one body are kept once each."""
    plain_found = html_found = False
    for child in children:
        ctype = child.get_content_type()
        if ctype == "text/plain" and not plain_found:
            texts.append(decode_text(_part_bytes(child), child.get_content_charset()))
            plain_found = True
        elif ctype == "text/html" and not html_found:
            htmls.append(decode_text(_part_bytes(child), child.get_content_charset()))
            html_found = True
        elif child.is_multipart():
            sub_texts: list[str] = []
            _walk(child, sub_texts if not plain_found else [], htmls, attachments)
            texts.extend(sub_texts)
            plain_found = plain_found or bool(sub_texts)
        elif ctype not in ("text/plain", "text/html"):
            _as_attachment(child, attachments)


def _as_attachment(part: Message, attachments: list[ParsedAttachment]) -> None:
    ctype = part.get_content_type()
    if part.is_multipart() or ctype.startswith("message/"):
        try:
            content = part.as_bytes(policy=policy.compat32) if part.is_multipart() else b""
            if not content:
                inner = _children(part)
                content = inner[0].as_bytes(policy=policy.compat32) if inner else _part_bytes(part)
        except Exception:
            content = _part_bytes(part)
    else:
        content = _part_bytes(part)
    disposition = (part.get_content_disposition() or "").lower()
    extension = {
        "message/rfc822": ".eml",
        "message/delivery-status": ".txt",
        "text/rfc822-headers": ".txt",
        "text/plain": ".txt",
        "text/html": ".html",
    }.get(ctype, "")
    name = _filename(part) or f"attachment{extension}"
    content_id = str(part.get("Content-ID", "") or "").strip().strip("<>")
    attachments.append(
        ParsedAttachment(
            filename=name,
            content_type=ctype,
            content=content,
            inline=disposition == "inline" or bool(content_id and disposition != "attachment"),
            content_id=content_id[:200],
        )
    )


def _automatic(message: Message, bounce: BounceReport | None) -> str:
    """Why the mail was sent by a machine (RFC 3834 and the de-facto headers), or ""."""
    if bounce is not None:
        return "delivery-status"
    auto_submitted = header(message, "Auto-Submitted").lower()
    if auto_submitted and auto_submitted != "no":
        return f"Auto-Submitted: {auto_submitted}"
    precedence = header(message, "Precedence").lower()
    if precedence in AUTO_PRECEDENCE:
        return f"Precedence: {precedence}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-Auto-Response"):
        if header(message, name):
            return name
    if header(message, "X-Autogenerated") or header(message, "X-Auto-Generated"):
        return "X-Autogenerated"
    if header(message, "List-Id") or header(message, "List-Unsubscribe"):
        return "mailing list"
    subject = header(message, "Subject")
    if AUTO_SUBJECT_RE.match(subject):
        return f"Subject: {subject[:60]}"
    return ""


def _bounce_report(message: Message) -> BounceReport | None:
    """The DSN of a multipart/report; report-type=delivery-status, else None."""
    if message.get_content_type() != "multipart/report":
        return None
    report_type = message.get_param("report-type")
    if not isinstance(report_type, str) or report_type.lower() != "delivery-status":
        return None
    report = BounceReport()
    for child in _children(message):
        ctype = child.get_content_type()
        if ctype == "message/delivery-status":
            _read_status(child, report)
        elif ctype in ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers"):
            report.original_message_id = report.original_message_id or _original_id(child)
    return report


def _read_status(part: Message, report: BounceReport) -> None:
    """Per-recipient blocks of message/delivery-status: Final-Recipient with Action: failed."""
    raw = _status_text(part)
    for block in re.split(r"\n\s*\n", raw):
        fields: dict[str, str] = {}
        for line in re.sub(r"\n[ \t]+", " ", block).splitlines():
            key, sep, value = line.partition(":")
            if sep:
                fields.setdefault(key.strip().lower(), value.strip())
        recipient = fields.get("final-recipient") or fields.get("original-recipient") or ""
        if not recipient:
            continue
        action = fields.get("action", "").lower()
        status = fields.get("status", "")
        if action == "failed" or (not action and status.startswith("5")):
            address = recipient.split(";", 1)[-1].strip().strip("<>").lower()
            if "@" in address and address not in report.failed_recipients:
                report.failed_recipients.append(address)
            if status and not report.status:
                report.status = status.split()[0]
            diagnostic = fields.get("diagnostic-code", "")
            report.diagnostic = report.diagnostic or diagnostic.split(";", 1)[-1].strip()


def _status_text(part: Message) -> str:
    blocks = _children(part)
    if blocks:  # the parser reads delivery-status as header blocks
        return "\n\n".join("\n".join(f"{k}: {v}" for k, v in block.items()) for block in blocks)
    if isinstance(part.get_payload(), str):
        return decode_text(_part_bytes(part), part.get_content_charset())
    return ""


def _original_id(part: Message) -> str:
    payload = part.get_payload()
    children = _children(part)
    inner: Message | None = children[0] if children else None
    if inner is None and isinstance(payload, str):
        found = re.search(r"(?im)^message-id:\s*(<[^>]+>)", payload)
        return found.group(1) if found else ""
    if inner is None:
        return ""
    ids = _message_ids(header(inner, "Message-ID"))
    return ids[0] if ids else ""


def format_address(name: str, address: str) -> str:
    """`Name <address>` with the name encoded as mail needs it."""
    if not name:
        return address
    local, _, domain = address.partition("@")
    return str(Address(display_name=name, username=local, domain=domain))
