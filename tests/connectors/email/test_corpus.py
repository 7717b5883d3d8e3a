"""The shared corpus of 345 real-world-shaped messages (../shared/datasets/email_corpus): every
message parses, and known ones give their known answers. Skipped where the corpus is absent."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from django.db import transaction

from ascolto.connectors.email import services
from ascolto.connectors.email.models import EmailMessageRecord
from ascolto.connectors.email.parsing import EmailParseError, ParsedEmail, parse_email
from ascolto.connectors.email.quotes import trim_html, trim_text
from ascolto.core.sanitize import html_to_text, sanitize_html
from ascolto.inbox.models import Message


def rows(corpus: Path) -> list[dict[str, str]]:
    with (corpus / "manifest.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def parse(corpus: Path, path: str) -> ParsedEmail:
    return parse_email((corpus / path).read_bytes())


def test_every_message_of_the_corpus_parses(corpus):
    manifest = rows(corpus)
    assert len(manifest) == 345
    parsed = refused = 0
    for row in manifest:
        data = (corpus / row["path"]).read_bytes()
        if row["kind"] == "rfc5322":
            result = parse_email(data)  # raises nothing, whatever the defects
            assert result.message_id.startswith("<")
            parsed += 1
            continue
        # Reply texts without headers and the binary Outlook .msg are not mail: refused with
        # a clear error, or (a body whose first line looks like a header) parsed harmlessly.
        try:
            parse_email(data)
        except EmailParseError:
            refused += 1
    assert parsed == 267
    assert refused >= 70


def test_delivery_reports_are_recognised_with_recipient_and_original(corpus):
    report = parse(corpus, "mikel_mail/multipart_report_emails/report_530.eml").bounce
    assert report is not None
    assert report.failed_recipients == ["edwin@zzzzzzz.com"]
    assert report.status == "5.3.0"
    assert report.original_message_id == "<200712232303.lBNN3jDq002941@mail12.rrrr.com.au>"

    no_from = parse(corpus, "chatwoot/bounced_with_no_from.eml")
    assert no_from.bounce is not None
    assert no_from.bounce.failed_recipients == ["noreply@example-service.com"]
    assert no_from.from_address == ""

    dsn_count = sum(
        1
        for row in rows(corpus)
        if row["kind"] == "rfc5322" and parse(corpus, row["path"]).bounce is not None
    )
    tagged = sum(1 for row in rows(corpus) if "rfc3464_dsn" in row["categories"].split())
    assert dsn_count >= tagged - 2  # the tags are heuristic; nearly all RFC 3464 DSNs found


def test_machine_mail_is_recognised_and_a_suppress_header_alone_is_not(corpus):
    for path in (
        "discourse/auto_generated_header.eml",
        "discourse/auto_generated_precedence.eml",
        "chatwoot/non_utf_encoded_mail.eml",
        "sisimai_set_of_emails/bsd/rfc3834-01.eml",
        "php_mime_mail_parser/issue212",
    ):
        assert parse(corpus, path).automatic, path
    assert parse(corpus, "discourse/quirks_exchange_xars.eml").automatic == ""


def test_charsets_are_decoded(corpus):
    assert parse(corpus, "discourse/hebrew.eml").visible_text == "שלום"
    assert parse(corpus, "discourse/big5.eml").visible_text == "媽\uff01我上電視了\uff01"
    assert parse(corpus, "chatwoot/non_utf_encoded_mail.eml").subject == "أهلين عميلنا الكريم"
    # An RFC 2047 word in iso-8859-8-i, a label Python does not know.
    assert parse(corpus, "php_mime_mail_parser/issue149").subject.startswith("מענה")
    assert parse(corpus, "php_mime_mail_parser/issue212").subject.startswith(
        "Automatyczna odpowiedź"
    )
    italian = parse(corpus, "spamscope_mail_parser/mail_test_10")
    assert "vi segnalo che oggi è stato annunciato" in italian.text


def test_attachments_are_counted(corpus):
    ten = parse(corpus, "php_mime_mail_parser/m0028")
    assert len(ten.attachments) == 10
    assert ten.visible_text == "This is the plain text content of the email"
    italian = parse(corpus, "spamscope_mail_parser/mail_test_10")
    assert [a.content_type for a in italian.attachments].count("image/gif") == 3
    assert "Move To Eight ZWEP6227F.pdf" in [a.filename for a in italian.attachments]


def test_replies_of_the_common_clients_are_trimmed_to_what_was_written(corpus):
    folder = corpus / "talon" / "standard_replies"
    files = sorted(folder.glob("*.eml"))
    assert len(files) >= 12
    for path in files:
        assert parse_email(path.read_bytes()).visible_text == "Hello", path.name
    quoted = parse(corpus, "chatwoot/mail_with_quote.eml")
    assert quoted.visible_text == "Yes, I am providing you step how to reproduce this issue"


def test_html_replies_of_the_common_clients_are_trimmed(corpus):
    """talon's HTML reply bodies (Gmail, Hotmail, Outlook 2003/2007/2010, Thunderbird, Windows
    Mail, Yandex, Mail.ru): the quoted mail is cut from the HTML and from its text."""
    files = sorted((corpus / "talon" / "html_replies").glob("*.html"))
    assert len(files) == 9
    for path in files:
        raw = path.read_bytes().decode("utf-8", "replace")
        visible = trim_text(html_to_text(sanitize_html(trim_html(raw))))
        assert " ".join(visible.split()) == "Hi. I am fine. Thanks, Alex", path.name


def test_threading_headers_are_read(corpus):
    two = parse(corpus, "chatwoot/multiple_in_reply_to.eml")
    assert two.in_reply_to == [
        "<4e6e35f5a38b4_479f13bb90078171@small-app-01.mail>",
        "<4e6e35f5a38b4_479f13bb90078131@small-app-01.mail>",
    ]


@pytest.mark.django_db
def test_the_whole_corpus_is_stored_once_each(corpus, mailbox):
    """Every message of the corpus goes through ingestion; a second pass stores nothing."""
    paths = [row["path"] for row in rows(corpus) if row["kind"] == "rfc5322"]
    stored = 0
    for path in paths:
        with transaction.atomic():
            outcome = services.email_ingest(
                mailbox=mailbox, raw=(corpus / path).read_bytes(), source="http"
            )
        stored += outcome.created
    records = EmailMessageRecord.objects.filter(mailbox=mailbox).count()
    for path in paths:
        with transaction.atomic():
            again = services.email_ingest(
                mailbox=mailbox, raw=(corpus / path).read_bytes(), source="http"
            )
        assert not again.created, path

    assert stored == records
    # Fixtures that share a Message-ID (copies of one mail, test series) are one message.
    distinct_ids = {parse(corpus, path).message_id for path in paths}
    assert records == len(distinct_ids)
    assert EmailMessageRecord.objects.filter(mailbox=mailbox).count() == records
    assert Message.objects.filter(inbox=mailbox.inbox).count() == (
        EmailMessageRecord.objects.filter(mailbox=mailbox, inbox_message__isnull=False).count()
    )
    assert EmailMessageRecord.objects.filter(mailbox=mailbox, kind="bounce").count() >= 35
