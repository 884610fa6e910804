from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("vault", "0002_platform_key"),
    ]

    operations = [
        migrations.AddField(
            model_name="subjectkey",
            name="generation",
            field=models.PositiveIntegerField(default=1),
        ),
    ]
