"""`disclosure_recorded`: sent by `services.record_disclosure` inside the transaction that wrote
the entry, with `disclosure` (the row) and `request`. The rights layer, above this one, listens
(confide/rights/disclosure_notices.py, connected in RightsConfig.ready) to write the patient's
notice of a compelled disclosure (DSC2) in the same transaction: this package cannot import the
letters (layers), and a receiver that fails rolls the disclosure back with it, so a compelled
disclosure is never on record without its notice or its recorded reason for none."""

from django.dispatch import Signal

disclosure_recorded = Signal()
