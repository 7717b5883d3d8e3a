"""Message templates: saving them (checked in the sandbox, with the WhatsApp mapping) and
picking the best one for a channel and language."""

from __future__ import annotations

from typing import Any

from ascolto.core.actors import Actor
from ascolto.core.audit import audit_record
from ascolto.core.errors import NotFound, ValidationFailed
from ascolto.core.models import Workspace
from ascolto.engagement import templates_render, whatsapp
from ascolto.engagement.models import MessageTemplate
from ascolto.inbox.models import Channel


def template_upsert(
    *,
    workspace: Workspace,
    actor: Actor,
    key: str,
    language: str,
    body: str,
    channel: str = "any",
    subject: str = "",
    whatsapp_mapping: dict[str, Any] | None = None,
) -> MessageTemplate:
    if channel != "any" and channel not in Channel.values:
        raise ValidationFailed(
            "Unknown channel.", field_errors={"channel": ["any, or an inbox channel."]}
        )
    if not key or not language:
        raise ValidationFailed(
            "A template needs a key and a language.",
            field_errors={"key": ["Required."], "language": ["Required."]},
        )
    templates_render.check_template(body, field="body")
    templates_render.check_template(subject, field="subject")
    mapping = whatsapp.validate_mapping(whatsapp_mapping)
    if mapping and channel != Channel.WHATSAPP:
        raise ValidationFailed(
            "Only WhatsApp templates map to an approved WhatsApp template.",
            field_errors={"whatsapp": ['Only with "channel": "whatsapp".']},
        )
    template, _ = MessageTemplate.objects.update_or_create(
        workspace=workspace,
        key=key,
        channel=channel,
        language=language.lower(),
        defaults={"body": body, "subject": subject, "whatsapp": mapping},
    )
    audit_record(
        workspace=workspace,
        actor=actor,
        action="engagement.template.save",
        object_type="engagement.template",
        object_id=template.pk,
        changes={"key": key, "channel": channel, "language": language},
    )
    return template


def template_for(*, workspace_id: int, key: str, channel: str, language: str) -> MessageTemplate:
    """The best template: the channel's in the language, any channel's in the language, then
    the same in the workspace's default language, then English. Raises NotFound."""
    candidates = list(MessageTemplate.objects.filter(workspace_id=workspace_id, key=key))
    default = Workspace.objects.get(pk=workspace_id).default_locale
    for lang in (language, default, "en"):
        for chan in (channel, "any"):
            for template in candidates:
                if template.language == lang and template.channel == chan:
                    return template
    raise NotFound(f"No message template {key!r} for {channel} in {language}.")
