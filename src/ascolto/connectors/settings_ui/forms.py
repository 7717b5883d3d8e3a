"""The channel forms. Secret fields are never rendered back: blank on an edit keeps the stored
value, and the page says whether one is set."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from ascolto.connectors.email.models import Mailbox
from ascolto.connectors.meta.models import MetaAccount


def _port(label: Any, initial: int) -> forms.IntegerField:
    return forms.IntegerField(label=label, initial=initial, min_value=1, max_value=65535)


def _secret(label: Any, *, required: bool) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=required,
        max_length=500,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )


class ChannelForm(forms.Form):
    """Secrets are required when the channel is created, optional (kept) when it is edited."""

    secret_fields: tuple[str, ...] = ()

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.editing = editing
        for name in self.secret_fields:
            if editing:
                self.fields[name].required = False


class MailboxForm(ChannelForm):
    name = forms.CharField(label=_("Inbox name"), max_length=120)
    address = forms.EmailField(label=_("Address"))
    display_name = forms.CharField(label=_("Display name"), max_length=120, required=False)
    imap_enabled = forms.BooleanField(label=_("Fetch by IMAP"), required=False)
    imap_host = forms.CharField(label=_("IMAP host"), max_length=255, required=False)
    imap_port = _port(_("IMAP port"), 993)
    imap_security = forms.ChoiceField(
        label=_("IMAP security"), choices=Mailbox.Security.choices, initial="ssl"
    )
    imap_user = forms.CharField(label=_("IMAP user"), max_length=255, required=False)
    imap_password = _secret(_("IMAP password"), required=False)
    imap_folder = forms.CharField(label=_("IMAP folder"), max_length=255, initial="INBOX")
    smtp_host = forms.CharField(
        label=_("SMTP host"),
        max_length=255,
        required=False,
        help_text=_("Blank: the site's mail server."),
    )
    smtp_port = _port(_("SMTP port"), 587)
    smtp_security = forms.ChoiceField(
        label=_("SMTP security"), choices=Mailbox.Security.choices, initial="starttls"
    )
    smtp_user = forms.CharField(label=_("SMTP user"), max_length=255, required=False)
    smtp_password = _secret(_("SMTP password"), required=False)

    secret_fields = ("imap_password", "smtp_password")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("imap_enabled"):
            if not data.get("imap_host"):
                self.add_error("imap_host", _("Required to fetch by IMAP."))
            if not data.get("imap_user"):
                self.add_error("imap_user", _("Required to fetch by IMAP."))
        return data


class TwilioForm(ChannelForm):
    name = forms.CharField(label=_("Inbox name"), max_length=120)
    account_sid = forms.CharField(label=_("Account SID"), max_length=64)
    auth_token = _secret(_("Auth token"), required=True)
    from_number = forms.CharField(
        label=_("From number"),
        max_length=40,
        help_text=_("+E.164 for SMS, whatsapp:+E.164 for WhatsApp."),
    )

    secret_fields = ("auth_token",)


class MetaForm(ChannelForm):
    name = forms.CharField(label=_("Inbox name"), max_length=120)
    platform = forms.ChoiceField(label=_("Platform"), choices=MetaAccount.Platform.choices)
    external_id = forms.CharField(label=_("Phone number or page id"), max_length=64)
    app_secret = _secret(_("App secret"), required=True)
    verify_token = _secret(_("Verify token"), required=True)
    access_token = _secret(_("Access token"), required=True)

    secret_fields = ("app_secret", "verify_token", "access_token")


class ApiChannelForm(ChannelForm):
    name = forms.CharField(label=_("Inbox name"), max_length=120)
    webhook_url = forms.CharField(
        label=_("Webhook URL"),
        max_length=2000,
        required=False,
        help_text=_("Where agent replies are POSTed. Blank: replies fail with a clear error."),
    )


class SendTestForm(forms.Form):
    to = forms.EmailField(label=_("Send a test message to"), required=False)


LANGUAGES = (("en", _("English")), ("it", _("Italian")), ("he", _("Hebrew")))


class AutoReplyForm(forms.Form):
    """Business hours and the automatic texts per language (fields away_<lang>, ack_<lang>)."""

    business_hours = forms.TypedChoiceField(
        label=_("Business hours"), coerce=int, required=False, empty_value=None
    )
    acknowledge = forms.BooleanField(label=_("Acknowledge every new conversation"), required=False)
    suggest_articles = forms.BooleanField(
        label=_("Email: list the best matching help-center articles in the acknowledgement"),
        required=False,
        initial=True,
    )

    def __init__(self, *args: Any, hours_choices: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["business_hours"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = [("", _("Always open (no away message)")), *hours_choices]
        for code, name in LANGUAGES:
            self.fields[f"away_{code}"] = forms.CharField(
                label=_("Outside business hours (%(language)s)") % {"language": name},
                required=False,
                max_length=2000,
                widget=forms.Textarea(attrs={"rows": 3, "dir": "auto"}),
            )
        for code, name in LANGUAGES:
            self.fields[f"ack_{code}"] = forms.CharField(
                label=_("Acknowledgement (%(language)s)") % {"language": name},
                required=False,
                max_length=2000,
                widget=forms.Textarea(attrs={"rows": 3, "dir": "auto"}),
            )
