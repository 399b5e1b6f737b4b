"""`School.expected_ks1` is `ExpectedSchool` now (0002)."""

from django.db import migrations


def restore(apps, schema_editor):
    """Going back: the column again, for the schools expected in the default collection."""
    from keystage.engine.definition import DEFAULT_COLLECTION

    School = apps.get_model("orgs", "School")
    ExpectedSchool = apps.get_model("orgs", "ExpectedSchool")
    expected = ExpectedSchool.objects.filter(collection=DEFAULT_COLLECTION).values("school_id")
    School.objects.filter(pk__in=expected).update(expected_ks1=True)


class Migration(migrations.Migration):
    dependencies = [
        ("orgs", "0002_expected_schools"),
    ]

    operations = [
        migrations.RunPython(migrations.RunPython.noop, restore),
        migrations.RemoveField(
            model_name="school",
            name="expected_ks1",
        ),
    ]
