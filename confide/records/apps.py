from django.apps import AppConfig


class RecordsConfig(AppConfig):
    name = "confide.records"
    label = "records"
    verbose_name = "Records"

    def ready(self) -> None:
        from confide.audit.reports import register_patient_namer
        from confide.records import audit_names, policy_notices  # noqa: F401  (receives material_version_published)

        register_patient_namer(audit_names.patient_names)  # patients by name in the audit viewer
        from confide.records import waiting

        waiting.register_counts()  # the dashboard's counts
