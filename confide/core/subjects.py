"""The patient model, by name, for the layers below the records package.

The chart door and the consent ledger must load a patient row (is it there, in this practice,
still active?), but the records package that defines `Patient` builds on them: it imports the
door, so the door cannot import it. Like Django's `AUTH_USER_MODEL`, the model is named in
settings (`CONFIDE_PATIENT_MODEL`, "records.Patient") and looked up in the app registry; what
a lower layer may do with the row is what the door allows, nothing more."""

from __future__ import annotations

from django.apps import apps
from django.conf import settings


def patient_model():
    return apps.get_model(settings.CONFIDE_PATIENT_MODEL, require_ready=True)
