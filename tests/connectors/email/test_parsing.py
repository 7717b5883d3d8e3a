"""Parsing raw mail: charsets (declared, wrong, unknown), transfer encodings, MIME structure,
attachments, quoted replies and signatures, machine mail and delivery reports."""

from __future__ import annotations

import base64
import contextlib
import quopri

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ascolto.connectors.email.parsing import EmailParseError, decode_text, parse_email
from ascolto.connectors.email.quotes import trim_html, trim_text


def raw_mail(body: bytes, *, ctype: str = "text/plain; charset=utf-8", cte: str = "8bit") -> bytes:
    return (
        b"From: Anna <anna@customer.example>\r\nTo: support@shop.example\r\n"
        b"Subject: Test\r\nMessage-ID: <t@customer.example>\r\nMIME-Version: 1.0\r\n"
        + f"Content-Type: {ctype}\r\nContent-Transfer-Encoding: {cte}\r\n\r\n".encode()
        + body
    )


@pytest.mark.parametrize(
    ("text", "charset"),
    [
        ("Dov'è il mio ordine? Perché è in ritardo.", "iso-8859-1"),
        ("Prezzo: 10 € — “grazie”", "windows-1252"),
        ("איפה ההזמנה שלי?", "windows-1255"),
        ("איפה ההזמנה שלי?", "iso-8859-8-i"),
        ("Где мой заказ?", "koi8-r"),
        ("Где мой заказ?", "windows-1251"),
        ("注文はどこですか", "iso-2022-jp"),
        ("注文はどこですか", "shift_jis"),
        ("我的订单在哪里", "gb2312"),
        ("주문은 어디에 있나요", "ks_c_5601-1987"),
        ("Zażółć gęślą jaźń", "iso-8859-2"),
    ],
)
def test_declared_charsets_are_decoded(text, charset):
    codec = {"iso-8859-8-i": "iso-8859-8", "ks_c_5601-1987": "cp949", "gb2312": "gb2312"}
    payload = text.encode(codec.get(charset, charset))

    parsed = parse_email(raw_mail(payload, ctype=f"text/plain; charset={charset}"))

    assert parsed.text == text


def test_quoted_printable_and_base64_bodies_are_decoded():
    text = "Caffè ☕ e cornetto, grazie mille!"
    qp = parse_email(raw_mail(quopri.encodestring(text.encode()), cte="quoted-printable"))
    b64 = parse_email(raw_mail(base64.encodebytes(text.encode()), cte="base64"))

    assert qp.text == text
    assert b64.text == text


def test_a_wrong_or_unknown_declared_charset_falls_back_without_losing_text():
    utf8_labelled_ascii = parse_email(
        raw_mail("Grüße aus München".encode(), ctype="text/plain; charset=us-ascii")
    )
    unknown = parse_email(
        raw_mail("Perché no?".encode("cp1252"), ctype="text/plain; charset=x-unknown-123")
    )
    undeclared = parse_email(raw_mail("Città".encode("cp1252"), ctype="text/plain"))

    assert utf8_labelled_ascii.text == "Grüße aus München"
    assert unknown.text == "Perché no?"
    assert undeclared.text == "Città"


def test_decode_text_never_raises():
    assert decode_text(b"\xff\xfe\x00bad", "utf-8") == "ÿþ\x00bad"


def test_encoded_words_in_unknown_labels_and_raw_8bit_headers_are_decoded():
    raw = (
        b"From: =?iso-8859-8-i?B?4fDp?= <dan@customer.example>\r\n"
        b"Subject: =?iso-8859-8-i?B?7vLw5A==?= Invoice\r\n"
        b"To: support@shop.example\r\nMessage-ID: <h@x>\r\n\r\nbody\r\n"
    )
    parsed = parse_email(raw)

    assert parsed.subject == "מענה Invoice"
    assert parsed.from_address == "dan@customer.example"

    raw_8bit = "Subject: Perché\r\nFrom: a@b.example\r\n\r\nx".encode()
    assert parse_email(raw_8bit).subject == "Perché"


def test_multipart_alternative_keeps_text_and_sanitised_html_once():
    raw = (
        b"From: anna@customer.example\r\nSubject: Hi\r\nMessage-ID: <a@b>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/alternative; boundary="X"\r\n\r\n'
        b"--X\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nPlain version\r\n"
        b"--X\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        b'<p onclick="x()">HTML <b>version</b></p><script>steal()</script>'
        b'<a href="javascript:alert(1)">link</a>\r\n'
        b"--X--\r\n"
    )
    parsed = parse_email(raw)

    assert parsed.text == "Plain version"
    assert "<b>version</b>" in parsed.html
    assert "script" not in parsed.html
    assert "onclick" not in parsed.html
    assert "javascript" not in parsed.html
    assert parsed.attachments == []


def test_attachments_and_inline_images_are_collected_with_safe_names():
    raw = (
        b"From: anna@customer.example\r\nSubject: Files\r\nMessage-ID: <f@b>\r\n"
        b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="M"\r\n\r\n'
        b'--M\r\nContent-Type: multipart/related; boundary="R"\r\n\r\n'
        b'--R\r\nContent-Type: text/html\r\n\r\n<p>Look <img src="cid:img1"></p>\r\n'
        b"--R\r\nContent-Type: image/png\r\nContent-ID: <img1>\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--R--\r\n"
        b'--M\r\nContent-Type: application/pdf; name="a.pdf"\r\n'
        b'Content-Disposition: attachment; filename="../../etc/passwd.pdf"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n"
        b"--M\r\nContent-Type: text/plain\r\nContent-Disposition: attachment;"
        b" filename*=utf-8''r%C3%A9sum%C3%A9.txt\r\n\r\nCV\r\n"
        b"--M--\r\n"
    )
    parsed = parse_email(raw)

    by_name = {a.filename: a for a in parsed.attachments}
    assert set(by_name) == {"attachment", "passwd.pdf", "résumé.txt"}
    image = by_name["attachment"]
    assert image.inline
    assert image.content_id == "img1"
    assert image.content == b"\x89PNG\r\n\x1a\n"
    assert by_name["passwd.pdf"].content == b"%PDF-"
    assert not by_name["passwd.pdf"].inline
    assert by_name["résumé.txt"].content == b"CV"
    assert parsed.visible_text == "Look"


@pytest.mark.parametrize(
    "body",
    [
        # Gmail
        "Thanks, that works.\n\nOn Mon, Nov 23, 2026 at 10:00 AM Shop <support@shop.example> "
        "wrote:\n> Did it work?\n> Regards",
        # Gmail, wrapped header line
        "Thanks, that works.\n\nOn Mon, Nov 23, 2026 at 10:00 AM Shop Support\n"
        "<support@shop.example> wrote:\n\n> Did it work?",
        # Apple Mail
        "Thanks, that works.\n\nSent from my iPhone\n\n> On 23 Nov 2026, at 10:00, "
        "Shop <support@shop.example> wrote:\n> Did it work?",
        # Outlook
        "Thanks, that works.\n\n-----Original Message-----\nFrom: Shop\nSent: Monday\n"
        "Subject: Test\n\nDid it work?",
        # Outlook, From/Sent block after an underscore rule
        "Thanks, that works.\n\n________________________________\nFrom: Shop "
        "<support@shop.example>\nSent: Monday, November 23, 2026 10:00\nTo: Anna\n\nDid it work?",
        # Outlook without the rule
        "Thanks, that works.\n\nFrom: Shop <support@shop.example>\nSent: Monday\n"
        "To: Anna\nSubject: Test\n\nDid it work?",
        # Italian Gmail
        "Thanks, that works.\n\nIl giorno lun 23 nov 2026 alle ore 10:00 Shop "
        "<support@shop.example> ha scritto:\n> Did it work?",
        # ">" block at the end
        "Thanks, that works.\n\n> Did it work?\n> Regards",
        # Signature
        "Thanks, that works.\n-- \nAnna Rossi\n+39 02 1234567",
    ],
)
def test_quoted_replies_and_signatures_are_trimmed(body):
    assert trim_text(body) == "Thanks, that works."


def test_interleaved_answers_keep_their_quotes():
    body = "> Which size?\nMedium.\n> Which colour?\nBlue."
    assert trim_text(body) == body


def test_a_mail_that_is_only_quote_is_kept_whole():
    body = "> Did it work?\n> Regards"
    assert trim_text(body) == body


def test_bottom_posted_reply_keeps_the_answer():
    body = "On 04/02/2026 06:26 PM, Shop wrote:\n> Did it work?\nYes it did."
    assert trim_text(body) == "Yes it did."


def test_html_quotes_are_cut_where_the_client_starts_them():
    html = (
        '<div dir="ltr">Thanks!</div><br><div class="gmail_quote">'
        "<div>On Mon, Shop wrote:</div><blockquote>Did it work?</blockquote></div>"
    )
    assert trim_html(html) == '<div dir="ltr">Thanks!</div><br>'
    assert trim_html('<blockquote type="cite">only quote</blockquote>').startswith("<blockquote")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Auto-Submitted: auto-generated", "Auto-Submitted: auto-generated"),
        ("Precedence: bulk", "Precedence: bulk"),
        ("X-Autoreply: yes", "X-Autoreply"),
        ("X-Autorespond: yes", "X-Autorespond"),
        ("List-Id: <news.shop.example>", "mailing list"),
        ("Auto-Submitted: no", ""),
        ("X-Auto-Response-Suppress: All", ""),
    ],
)
def test_machine_mail_is_recognised(header, expected):
    raw = f"From: a@b.example\r\nSubject: Hi\r\n{header}\r\n\r\nbody".encode()
    assert parse_email(raw).automatic == expected


def test_out_of_office_subjects_are_machine_mail():
    raw = b"From: a@b.example\r\nSubject: Risposta automatica: Ordine 1042\r\n\r\nbody"
    assert parse_email(raw).automatic.startswith("Subject: Risposta automatica")


@pytest.mark.parametrize(
    "raw",
    [b"", b"   \r\n\r\n", b"just a sentence with no header", b"\x00\x01\x02", b"%PDF-1.4\n"],
)
def test_what_is_not_an_email_is_refused_clearly(raw):
    with pytest.raises(EmailParseError, match="not an email"):
        parse_email(raw)


def test_mbox_from_line_leading_space_and_cr_only_endings_are_tolerated():
    parsed = parse_email(
        b" " * 255 + b"\nFrom anna@x Mon Nov 23 10:00:00 2026\r"
        b"From: anna@customer.example\rSubject: Hi\r\rBody text\r"
    )
    assert parsed.subject == "Hi"
    assert parsed.from_address == "anna@customer.example"
    assert parsed.text.strip() == "Body text"


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_parse_or_are_refused_as_not_an_email(data):
    with contextlib.suppress(EmailParseError):
        parse_email(data)


@settings(max_examples=100, deadline=None)
@given(
    subject=st.text(max_size=80),
    body=st.text(max_size=500),
    charset=st.sampled_from(["utf-8", "iso-8859-1", "windows-1255", "koi8-r", "bogus"]),
)
def test_any_header_text_and_body_charset_parse(subject, body, charset):
    raw = (
        f"From: a@b.example\r\nSubject: {subject}\r\n"
        f"Content-Type: text/plain; charset={charset}\r\n\r\n"
    ).encode("utf-8", "surrogatepass") + body.encode("utf-8", "surrogatepass")
    parse_email(raw)
