"""Fides' lesson, as a build rule: every model with an encrypted (PHI) field declares a category
of the taxonomy, is encrypted under its patient's key, and is reachable from Patient along
foreign keys, so export and erasure cannot miss it."""

from __future__ import annotations

from django.db import models
from django.test.utils import isolate_apps

from confide.core.models import TenantModel
from confide.policy.reachability import path_to_patient, problems
from confide.vault.fields import EncryptedTextField, encrypted_fields


def test_every_model_holding_phi_is_declared_and_reachable_from_the_patient():
    assert problems() == []


def test_the_walk_sees_the_models_that_hold_phi():
    from django.apps import apps

    holding = {m._meta.label for m in apps.get_models() if encrypted_fields(m)}
    assert {"records.Patient", "access.BreakGlassReason", "records.IntakeSubmission"} <= holding
    assert path_to_patient(apps.get_model("access", "BreakGlassReason")) == ["patient"]


@isolate_apps("confide.policy")
def test_a_model_with_phi_that_no_foreign_key_connects_to_a_patient_fails_the_check():
    class StrayNote(TenantModel):
        body = EncryptedTextField(category="health.notes")

        class Meta:
            app_label = "policy"

    assert problems([StrayNote]) == ["policy.StrayNote: holds personal data but no chain of foreign keys reaches records.Patient"]


@isolate_apps("confide.policy")
def test_a_category_outside_the_taxonomy_and_a_foreign_subject_key_fail_the_check():
    class Letter(TenantModel):
        patient = models.ForeignKey("records.Patient", on_delete=models.PROTECT, related_name="+")
        author_id = models.IntegerField()
        body = EncryptedTextField(category="health.letters", subject_field="patient_id")
        signature = EncryptedTextField(category="health.documents", subject_field="author_id")

        class Meta:
            app_label = "policy"

    assert problems([Letter]) == [
        "policy.Letter.body: category 'health.letters' is not in the declared taxonomy",
        "policy.Letter.signature: encrypted under 'author_id', not the patient the row belongs to",
    ]


@isolate_apps("confide.policy")
def test_a_model_two_hops_from_the_patient_is_reachable():
    class Episode(TenantModel):
        patient = models.ForeignKey("records.Patient", on_delete=models.PROTECT, related_name="+")

        class Meta:
            app_label = "policy"

    class EpisodeNote(TenantModel):
        episode = models.ForeignKey(Episode, on_delete=models.PROTECT, related_name="+")
        body = EncryptedTextField(category="health.notes", subject_field="episode_id")

        class Meta:
            app_label = "policy"

    assert path_to_patient(EpisodeNote) == ["episode", "patient"]
    # Reachable, but its key is the episode's id: a row must be sealed under its patient's key.
    assert problems([EpisodeNote]) == ["policy.EpisodeNote.body: encrypted under 'episode_id', not the patient the row belongs to"]


@isolate_apps("confide.policy")
def test_a_data_subject_root_must_seal_everything_under_its_own_key():
    class Application(TenantModel):
        DATA_SUBJECT_ROOT = True
        referrer_id = models.UUIDField()
        name = EncryptedTextField(category="identifiers.name")
        story = EncryptedTextField(category="health.intake", subject_field="referrer_id")

        class Meta:
            app_label = "policy"

    assert problems([Application]) == ["policy.Application.story: a data-subject root seals under its own id, not 'referrer_id'"]
