from django.db import migrations, models


def forget_rollups(apps, schema_editor):
    """Rows for two filters together are new: the rollups are rebuilt whole by the next
    refresh (until then the dashboards compute directly, as with rollups never built)."""
    apps.get_model("analytics", "ConversationRollup").objects.all().delete()
    apps.get_model("analytics", "ConversationRollupState").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0005_conversation_rollup_packed_histograms"),
    ]

    operations = [
        migrations.RunPython(forget_rollups, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="conversationrollup",
            name="dimension",
            field=models.CharField(blank=True, default="", max_length=20),
        ),
    ]
