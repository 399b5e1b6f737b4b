from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("returns", "0003_returns_submission"),
    ]

    operations = [
        migrations.AddField(
            model_name="collectedpupil",
            name="nc_year",
            field=models.CharField(blank=True, default="", max_length=10),
        ),
    ]
