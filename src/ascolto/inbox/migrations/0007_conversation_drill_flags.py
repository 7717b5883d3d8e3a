"""What the drill-down lists select on, kept on the conversation (`handled`, `has_bot_message`,
`has_agent_reply`), set for the existing conversations by one statement, then the lists'
covering indexes (built after the backfill, so once).

Not atomic: each step commits on its own, so the table is locked for writes only while a
column is added or an index built, not for the whole migration, and the indexes are built
after the backfill's old row versions are dead (inside one transaction they would be indexed
too, leaving the indexes half empty once vacuumed)."""

from typing import Any

from django.conf import settings
from django.db import migrations, models
from django.db.models.functions import Coalesce

# One pass over the handling spans and the assistant's and agents' messages, grouped by
# conversation; only the conversations with any of them are written (the others keep the
# columns' default, false). Plain SQL that PostgreSQL and SQLite (3.33+, UPDATE ... FROM) both
# run: a join per conversation (EXISTS probes) costs millions of index lookups at scale.
BACKFILL_SQL = """
UPDATE inbox_conversation
SET handled = (found.handled = 1),
    has_bot_message = (found.bot = 1),
    has_agent_reply = (found.agent = 1)
FROM (
    SELECT conversation_id, MAX(handled) AS handled, MAX(bot) AS bot, MAX(agent) AS agent
    FROM (
        SELECT conversation_id, 1 AS handled, 0 AS bot, 0 AS agent
        FROM inbox_handlinginterval
        UNION ALL
        SELECT conversation_id, 0,
               CASE WHEN kind = 'bot' THEN 1 ELSE 0 END,
               CASE WHEN kind = 'outbound' THEN 1 ELSE 0 END
        FROM inbox_message
        WHERE kind IN ('bot', 'outbound')
    ) AS rows
    GROUP BY conversation_id
) AS found
WHERE inbox_conversation.id = found.conversation_id
"""


def backfill(apps: Any, schema_editor: Any) -> None:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(BACKFILL_SQL)


STARTED = Coalesce(models.F("first_customer_message_at"), models.F("created_at"))
FILTER_COLUMNS = (
    "channel",
    "team",
    "assignee",
    "language",
    "customer",
    "first_customer_message_at",
    "created_at",
)
CONDITION_COLUMNS = (
    "status",
    "resolved_at",
    "first_response_at",
    "first_response_due_at",
    "resolution_due_at",
    "reopen_count",
    "transfer_count",
)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("accounts", "0002_initial"),
        ("core", "0001_initial"),
        ("customers", "0002_indexes_for_bulk_loads"),
        ("inbox", "0006_conversation_open_assignee_index"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="conversation",
            name="handled",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="conversation",
            name="has_agent_reply",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="conversation",
            name="has_bot_message",
            field=models.BooleanField(default=False),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="conversation",
            index=models.Index(
                models.F("workspace"),
                STARTED,
                models.F("id"),
                condition=models.Q(("merged_into__isnull", True)),
                include=(*FILTER_COLUMNS, *CONDITION_COLUMNS),
                name="conv_drill_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="conversation",
            index=models.Index(
                models.F("workspace"),
                STARTED,
                models.F("id"),
                condition=models.Q(("handled", True), ("merged_into__isnull", True)),
                include=FILTER_COLUMNS,
                name="conv_drill_handled_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="conversation",
            index=models.Index(
                models.F("workspace"),
                STARTED,
                models.F("id"),
                condition=models.Q(
                    ("has_agent_reply", False),
                    ("has_bot_message", True),
                    ("merged_into__isnull", True),
                    ("resolved_at__isnull", False),
                ),
                include=FILTER_COLUMNS,
                name="conv_drill_bot_resolved_idx",
            ),
        ),
    ]
