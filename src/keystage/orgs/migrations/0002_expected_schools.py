"""Which schools are expected, per collection: `School.expected_ks1` (worked out with KS1 2023's
definition only) becomes one `ExpectedSchool` row per school and collection, worked out from
the schools' stored register fields with every shipped definition. The column goes in 0003
(PostgreSQL refuses to alter a table in the transaction that filled a table referring to it).
"""

import django.db.models.deletion
from django.db import migrations, models

FIELDS = (
    "pk", "urn", "la__code", "estab", "name", "type_name", "phase_name", "status_name",
    "open_date", "close_date", "low_age", "high_age",
)  # fmt: skip


def fill(apps, schema_editor):
    from keystage.engine import definition as definitions
    from keystage.engine.register import SchoolEntry, expects

    School = apps.get_model("orgs", "School")
    ExpectedSchool = apps.get_model("orgs", "ExpectedSchool")
    tests = [(code, expects(definitions.load(code))) for code in definitions.available()]
    rows = []
    for pk, urn, la, estab, *rest in School.objects.values_list(*FIELDS).iterator():
        entry = SchoolEntry(urn, la, estab, *rest, line=0)
        rows.extend(ExpectedSchool(school_id=pk, collection=code) for code, t in tests if t(entry))
    ExpectedSchool.objects.bulk_create(rows, batch_size=2000)


class Migration(migrations.Migration):
    dependencies = [
        ("orgs", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="ExpectedSchool",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("collection", models.CharField(db_index=True, max_length=40)),
                (
                    "school",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="expected_in",
                        to="orgs.school",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("school", "collection"), name="orgs_expectedschool_once"
                    )
                ],
            },
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
