"""Conversation search texts: every message text of a conversation in a few rows, so that search
tests one row per conversation instead of each message (inbox.models.ConversationSearchText).

Filled from the messages in one statement per database (set-based: at 10M messages a few
minutes on PostgreSQL), then indexed for substring search with a trigram GIN index on
PostgreSQL. The trigram index on every message text (migration 0002) stays: console search no
longer reads it, the admin's message search does.
"""

import django.db.models.deletion
from django.db import migrations, models

# Rows start every CHUNK characters of a conversation's texts (inbox.services.SEARCH_TEXT_CHUNK).
CHUNK = 1000
SEARCH_INDEX = "inbox_conversationsearchtext_text_trgm"

# A message starting past character CHUNK * k of its conversation's texts (newline included)
# goes to row k; texts are joined with a newline (inbox.models.SEARCH_TEXT_SEPARATOR).
FILL = """
INSERT INTO inbox_conversationsearchtext (workspace_id, conversation_id, text)
SELECT workspace_id, conversation_id, {aggregate}
FROM (
    SELECT workspace_id, conversation_id, id, created_at, text,
           (SUM(LENGTH(text) + 1) OVER (PARTITION BY conversation_id ORDER BY created_at, id)
            - LENGTH(text) - 1) / {chunk} AS chunk
    FROM inbox_message
    WHERE text <> ''
) AS m
GROUP BY workspace_id, conversation_id, chunk
"""


def fill_search_texts(connection):
    """Write the search texts of every message (the bench calls this after its own fill)."""
    if connection.vendor == "postgresql":
        aggregate = "string_agg(text, E'\\n' ORDER BY created_at, id)"
    else:
        aggregate = "group_concat(text, char(10))"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Sorting 10M texts by conversation: memory for this transaction only.
            cursor.execute("SET LOCAL work_mem = '128MB'")
        cursor.execute(FILL.format(aggregate=aggregate, chunk=CHUNK))


def create_search_index(connection):
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL maintenance_work_mem = '128MB'")
        cursor.execute(
            f'CREATE INDEX IF NOT EXISTS "{SEARCH_INDEX}" ON "inbox_conversationsearchtext" '
            'USING gin ((UPPER("text"::text)) gin_trgm_ops)'
        )


def fill(apps, schema_editor):
    fill_search_texts(schema_editor.connection)


def index(apps, schema_editor):
    create_search_index(schema_editor.connection)


def unindex(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f'DROP INDEX IF EXISTS "{SEARCH_INDEX}"')


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_initial"),
        ("inbox", "0007_conversation_drill_flags"),
    ]

    operations = [
        migrations.CreateModel(
            name="ConversationSearchText",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("text", models.TextField(blank=True, default="")),
                (
                    "conversation",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="inbox.conversation",
                    ),
                ),
                (
                    "workspace",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="core.workspace",
                    ),
                ),
            ],
            options={
                "verbose_name": "conversation search text",
                "verbose_name_plural": "conversation search texts",
            },
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.RunPython(index, unindex),
    ]
