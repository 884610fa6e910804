from django.apps import AppConfig


class RightsConfig(AppConfig):
    name = "confide.rights"
    label = "rights"
    verbose_name = "Rights requests"

    def ready(self) -> None:
        # disc part: the notice of a compelled disclosure (DSC2), written in the transaction that
        # records it (confide/rights/disclosure_notices.py explains why it lives here).
        from confide.disclosures.signals import disclosure_recorded
        from confide.rights.disclosure_notices import on_disclosure_recorded

        disclosure_recorded.connect(on_disclosure_recorded, dispatch_uid="rights.disclosure_notice")
