from django.db import migrations, models


def rebuild_conversation_rollups(apps, schema_editor):
    """The rows of channel + language + tier are new: the next refresh rolls every day up again
    (until it has, the dashboards read those days directly)."""
    state = apps.get_model("analytics", "ConversationRollupState")
    state.objects.update(covered_until=None, partial_until=None)


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0010_agent_and_assistant_days"),
    ]

    operations = [
        migrations.AlterField(
            model_name="conversationrollup",
            name="dimension",
            field=models.CharField(blank=True, default="", max_length=40),
        ),
        migrations.RunPython(rebuild_conversation_rollups, migrations.RunPython.noop),
    ]
