"""Trigram indexes for the console's search on PostgreSQL (pg_trgm, a trusted extension).

They serve the case-insensitive substring matches (`icontains`, i.e. UPPER(col) LIKE UPPER(%s))
of `inbox.selectors` on message texts, subjects, customer names and identities. Other databases
get nothing: their search stays a scan, fine at embedded sizes.
"""

from django.db import migrations

INDEXES = [
    ("inbox_message_text_trgm", "inbox_message", "text"),
    ("inbox_conversation_subject_trgm", "inbox_conversation", "subject"),
    ("customers_customer_name_trgm", "customers_customer", "name"),
    ("customers_identity_value_trgm", "customers_identity", "value"),
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, column in INDEXES:
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" '
            f'USING gin ((UPPER("{column}"::text)) gin_trgm_ops)'
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _table, _column in INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [
        ("inbox", "0001_initial"),
        ("customers", "0001_initial"),
    ]

    operations = [migrations.RunPython(create, drop)]
