"""Indexes for finding the identities that contain a whole email address (PostgreSQL only).

An identity with a single "@" contains "local@domain" only if its part before the "@" ends with
"local": the reversed, upper-cased part before the "@" is indexed so that this is a prefix
range, one probe (inbox.selectors.identity_customer_ids). The rare values with two or more
"@" have an index of their own, and are tested one by one. A trigram lookup of an address
reads the long posting lists of its common trigrams ("com", "gma", ...) instead.
"""

from django.db import migrations

LOCAL_PART = "customers_identity_local_part_rev"
MANY_AT = "customers_identity_many_at"


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f'CREATE INDEX IF NOT EXISTS "{LOCAL_PART}" ON "customers_identity" '
        "(workspace_id, (reverse(upper(split_part(value, '@', 1)))) text_pattern_ops)"
    )
    schema_editor.execute(
        f'CREATE INDEX IF NOT EXISTS "{MANY_AT}" ON "customers_identity" (workspace_id) '
        "WHERE value LIKE '%%@%%@%%'"
    )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in (LOCAL_PART, MANY_AT):
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [("customers", "0002_indexes_for_bulk_loads")]

    operations = [migrations.RunPython(create, drop)]
