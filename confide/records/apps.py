from django.apps import AppConfig


class RecordsConfig(AppConfig):
    name = "confide.records"
    label = "records"
    verbose_name = "Records"

    def ready(self) -> None:
        from confide.records import policy_notices  # noqa: F401  (receives material_version_published)
