"""The tables of slack-sdk's installation and OAuth state stores (``models.py``)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies: list[tuple[str, str]] = []

    operations = [
        migrations.CreateModel(
            name="SlackOAuthState",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("state", models.CharField(max_length=64, unique=True)),
                ("expires_at", models.DateTimeField(db_index=True)),
            ],
        ),
        migrations.CreateModel(
            name="SlackBot",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("client_id", models.CharField(max_length=64)),
                ("enterprise_id", models.CharField(max_length=64, null=True)),
                ("team_id", models.CharField(max_length=64, null=True)),
                ("is_enterprise_install", models.BooleanField(default=False)),
                ("installed_at", models.DateTimeField()),
                ("data", models.JSONField()),
            ],
            options={
                "indexes": [
                    models.Index(
                        fields=["client_id", "enterprise_id", "team_id"],
                        name="telephonist_client__b1f433_idx",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="SlackInstallation",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("client_id", models.CharField(max_length=64)),
                ("enterprise_id", models.CharField(max_length=64, null=True)),
                ("team_id", models.CharField(max_length=64, null=True)),
                ("user_id", models.CharField(max_length=64)),
                ("is_enterprise_install", models.BooleanField(default=False)),
                ("installed_at", models.DateTimeField()),
                ("data", models.JSONField()),
            ],
            options={
                "indexes": [
                    models.Index(
                        fields=["client_id", "enterprise_id", "team_id", "user_id"],
                        name="telephonist_client__628c66_idx",
                    )
                ],
            },
        ),
    ]
