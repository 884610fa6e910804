# The account security events moved into the hash-chained audit log (confide/audit).

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0002_alter_securityevent_kind'),
    ]

    operations = [
        migrations.DeleteModel(
            name='SecurityEvent',
        ),
    ]
