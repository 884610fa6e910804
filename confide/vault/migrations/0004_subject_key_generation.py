from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("vault", "0003_blind_index_subject_kind"),
    ]

    operations = [
        migrations.AddField(
            model_name="subjectkey",
            name="generation",
            field=models.PositiveIntegerField(default=1),
        ),
    ]
