from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "confide.audit"
    label = "audit"
    verbose_name = "Audit log"

    def ready(self) -> None:
        from confide.audit import receivers  # noqa: F401  (records the vault's key events)
        from confide.audit import signals  # noqa: F401 — registers the genesis entry of a new practice
