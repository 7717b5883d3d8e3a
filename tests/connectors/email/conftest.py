"""Fixtures of the email channel: a mailbox, a real SMTP server on loopback (aiosmtpd) that
records what it is sent, a real IMAP server (Dovecot, started per test in a temp dir on a free
port, a passwd-file user and a maildir), and the shared corpus of real-world mail.

Dovecot is skipped where /usr/sbin/dovecot is missing, except in CI (CI=true), where that is a
failure: .ci/run installs dovecot-imapd.
"""

from __future__ import annotations

import imaplib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

import ascolto.connectors.email.handlers  # noqa: F401 - registers the outbox handler
from ascolto.connectors.email import services
from ascolto.connectors.email.models import Mailbox
from ascolto.core.actors import Actor
from tests.conftest import IN_CI

_REPOSITORY = Path(__file__).resolve().parents[3]
_CANDIDATES = (_REPOSITORY.parent / "shared" / "datasets", Path("/work/shared/datasets"))
DATASETS = next((p for p in _CANDIDATES if (p / "email_corpus" / "manifest.csv").exists()), None)
CORPUS = DATASETS / "email_corpus" if DATASETS is not None else None
DOVECOT = Path("/usr/sbin/dovecot")


@pytest.fixture(autouse=True)
def _email_settings(settings: Any) -> None:
    settings.ROOT_URLCONF = "tests.connectors.email.urls"
    # No waiting between attempts in tests; what is tested is the count and the end state.
    settings.ASCOLTO_EMAIL_RETRY_DELAYS = [0, 0]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_TIMEOUT = 5


@pytest.fixture
def corpus() -> Path:
    if CORPUS is None:
        pytest.skip("the shared email corpus (../shared/datasets/email_corpus) is not present")
    return CORPUS


@pytest.fixture
def mailbox(workspace: Any, admin_user: Any) -> Mailbox:
    return services.mailbox_create(
        workspace=workspace,
        name="Support",
        address="support@shop.example",
        display_name="Shop Support",
        actor=Actor.for_user(admin_user),
    )


def mail(
    *,
    sender: str = "Anna Rossi <anna@customer.example>",
    to: str = "support@shop.example",
    subject: str = "Where is my order?",
    body: str = "Hello, my order 1042 has not arrived.",
    message_id: str = "<first@customer.example>",
    headers: dict[str, str] | None = None,
) -> bytes:
    """A plain customer mail as a client would send it."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = message_id
    message["Date"] = "Mon, 23 Nov 2026 09:00:00 +0000"
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    return message.as_bytes()


# --- SMTP -----------------------------------------------------------------------------------


@dataclass
class SmtpSink:
    """The receiving mail server: records each mail; `refuse` makes it answer with an error."""

    host: str = "127.0.0.1"
    port: int = 0
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[Envelope] = field(default_factory=list)
    refuse: str = ""  # e.g. "550 5.1.1 No such user" or "451 4.3.0 Try later"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if self.refuse:
            return self.refuse
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        content = envelope.original_content or b""
        parsed = message_from_bytes(content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 Message accepted"


@pytest.fixture
def smtp(settings: Any, free_port: int) -> Iterator[SmtpSink]:
    sink = SmtpSink(port=free_port)
    controller = Controller(sink, hostname="127.0.0.1", port=free_port)
    controller.start()
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = free_port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    try:
        yield sink
    finally:
        controller.stop()


# --- IMAP (Dovecot) -------------------------------------------------------------------------


@dataclass
class Dovecot:
    port: int
    user: str
    password: str
    root: Path

    def client(self) -> imaplib.IMAP4:
        client = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        client.login(self.user, self.password)
        return client

    def append(self, *messages: bytes, folder: str = "INBOX") -> None:
        client = self.client()
        try:
            for raw in messages:
                status, data = client.append(folder, None, None, raw)
                assert status == "OK", data
        finally:
            client.logout()

    def seen_uids(self, folder: str = "INBOX") -> set[int]:
        client = self.client()
        try:
            client.select(folder)
            _status, data = client.uid("SEARCH", None, "SEEN")
            return {int(x) for x in data[0].split()}
        finally:
            client.logout()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


DOVECOT_CONF = """\
base_dir = {root}/run
state_dir = {root}/state
instance_name = ascolto-test-{port}
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
log_path = {root}/dovecot.log
mail_location = maildir:{root}/mail/%u
mail_uid = {uid}
mail_gid = {gid}
first_valid_uid = 1
default_internal_user = {internal_user}
default_login_user = {login_user}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/mail/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"""


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    """A Dovecot of the test's own, stopped (by its process id) when the test ends."""
    if not DOVECOT.exists():
        if IN_CI:
            pytest.fail("dovecot is not installed; CI=true requires it (see .ci/run).")
        pytest.skip("dovecot is not installed (apt-get install dovecot-imapd)")
    root = Path(tempfile.mkdtemp(prefix="ascolto-dovecot-"))
    root.chmod(0o755)
    (root / "mail").mkdir()
    (root / "state").mkdir()
    (root / "run").mkdir()
    if os.getuid() == 0:
        # Dovecot refuses to serve mail as root: the mail belongs to an unprivileged user.
        uid = gid = 65534
        os.chown(root / "mail", uid, gid)
        internal_user, login_user = "dovecot", "dovenull"
    else:
        uid, gid = os.getuid(), os.getgid()
        import pwd

        internal_user = login_user = pwd.getpwuid(uid).pw_name
    port = _free_port()
    user, password = "support@shop.example", "imap-secret"
    (root / "passwd").write_text(f"{user}:{{PLAIN}}{password}::::::\n")
    (root / "dovecot.conf").write_text(
        DOVECOT_CONF.format(
            root=root,
            port=port,
            uid=uid,
            gid=gid,
            internal_user=internal_user,
            login_user=login_user,
        )
    )
    process = subprocess.Popen(
        [str(DOVECOT), "-F", "-c", str(root / "dovecot.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    err = process.stderr.read().decode() if process.stderr else ""
                    log = (
                        (root / "dovecot.log").read_text()
                        if (root / "dovecot.log").exists()
                        else ""
                    )
                    pytest.fail(f"Dovecot did not start: {err} {log}")
                time.sleep(0.05)
        yield Dovecot(port=port, user=user, password=password, root=root)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr:
            process.stderr.close()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def imap_mailbox(mailbox: Mailbox, dovecot: Dovecot) -> Mailbox:
    mailbox.imap_enabled = True
    mailbox.imap_host = "127.0.0.1"
    mailbox.imap_port = dovecot.port
    mailbox.imap_security = Mailbox.Security.NONE
    mailbox.imap_user = dovecot.user
    mailbox.imap_password = dovecot.password
    mailbox.save()
    return mailbox
