"""Autovacuum visits the message and conversation tables after 1 % / 2 % of new or changed rows
instead of PostgreSQL's 20 % (decision 0015).

The dashboards' direct reads and the drill-down counts are index-only scans of covering indexes
(decision 0014); an index-only scan skips the table only for pages the visibility map marks
all-visible, and only VACUUM sets those marks. With the default thresholds a 10M-message table
is vacuumed once per 2M new messages, so months of recent messages are read from the table
too. Other databases get nothing.
"""

from django.db import migrations

SETTINGS = {
    # Mostly inserted: vacuum after 1 % new rows (sets the visibility map of the new pages).
    "inbox_message": "autovacuum_vacuum_insert_scale_factor = 0.01",
    # Inserted and updated (status, times, flags): after 1 % new or 2 % changed rows.
    "inbox_conversation": (
        "autovacuum_vacuum_insert_scale_factor = 0.01, autovacuum_vacuum_scale_factor = 0.02"
    ),
}


def tune(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, options in SETTINGS.items():
        schema_editor.execute(f'ALTER TABLE "{table}" SET ({options})')


def untune(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, options in SETTINGS.items():
        names = ", ".join(option.split("=")[0].strip() for option in options.split(","))
        schema_editor.execute(f'ALTER TABLE "{table}" RESET ({names})')


class Migration(migrations.Migration):
    dependencies = [
        ("inbox", "0009_three_filter_indexes"),
    ]

    operations = [migrations.RunPython(tune, untune)]
