"""Issue 13, the door: unwrapped subject keysets cached in a worker's memory across requests
must never outlive a shred or a rotation made by ANOTHER process.

Process A (the scenario's child) opens a chart, which leaves the patient's keyset in its
process cache; process B (a separate Python process on the same database and data directory)
then shreds or rotates the patient's key. A's next opening must not use the cached keyset:
after a shred it is refused or reads erased, after a rotation it writes under the new version.
B never touches A's memory, so what stops A is the key generation it reads with the patient.
"""

from __future__ import annotations

import os
import subprocess
import sys

from tests.concurrency.harness import REPO, new_world, run_scenario

# Process B: shred or rotate one patient's key, then exit.
OTHER_PROCESS = """
import sys, uuid
import django
django.setup()
from confide.core.tenancy import tenant_context
practice_id, patient_id, action = uuid.UUID(sys.argv[1]), uuid.UUID(sys.argv[2]), sys.argv[3]
with tenant_context(practice_id=practice_id):
    if action == "shred":
        from confide.records.services import do_shred_patient
        do_shred_patient(practice_id=practice_id, patient_id=patient_id)
    else:
        from confide.vault.rotation import rotate_subject
        rotate_subject(practice_id, patient_id)
"""


def _in_other_process(practice_id, patient_id, action: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", OTHER_PROCESS, str(practice_id), str(patient_id), action],
        env=dict(os.environ), cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]


def scenario_cached_key_after_another_process_changes_it(params):
    from confide.access.door import open_chart
    from confide.access.errors import AccessRefused
    from confide.core.actors import StaffActor
    from confide.core.permissions import Role
    from confide.core.purposes import Purpose
    from confide.core.tenancy import tenant_context
    from confide.records.models import Patient
    from confide.records.services import do_create_patient
    from confide.vault import keys, tombstones
    from confide.vault.allowance import allow
    from confide.vault.fields import is_erased

    world = new_world("keycache")
    clinician = StaffActor.from_membership(world.memberships[Role.CLINICIAN])
    out = {}
    with tenant_context(practice_id=world.practice.id):
        patient = do_create_patient(actor=clinician, given_name="Ada", family_name="Lovelace", phone="+1 415 555 0100")
        with open_chart(clinician, patient.id, Purpose.TREATMENT, for_update=True) as chart:
            out["before"] = chart.patient.given_name
            # A write seals under the active version: the process cache now holds it as such.
            chart.record_change(["phone"], "patient_request")
            chart.patient.phone = "+14155550101"
            chart.patient.save(update_fields=["phone", "updated_at"])
        out["cached_active"] = (patient.id, None) in keys._process
        out["cached"] = any(k[0] == patient.id for k in keys._process)
        if params["tombstones"] == "elsewhere":
            # A node whose data directory never saw the tombstone (another machine): only the
            # key generation read from the shared database can stop the cached keyset.
            tombstones.shredded = lambda: frozenset()
            tombstones.is_shredded = lambda subject_id: False
        _in_other_process(world.practice.id, patient.id, params["action"])
        out["still_cached_in_a"] = any(k[0] == patient.id for k in keys._process)  # B cannot reach A's memory
        if params["action"] == "shred":
            try:
                with open_chart(clinician, patient.id, Purpose.TREATMENT) as chart:
                    out["after"] = chart.patient.given_name
            except AccessRefused as exc:
                out["after"] = f"refused:{exc.code}"
            # The same read without the door's checks (a row is_active or not, no tombstone
            # here): the generation read with the row decides.
            from confide.access.door import _note_key_generation, _with_key_generation

            row = _with_key_generation(Patient.objects.filter(pk=patient.id)).first()
            with allow({"identifiers.name"}, subjects={patient.id}):
                _note_key_generation(row)
                value = row.given_name
            out["direct"] = "erased" if is_erased(value) else value
        else:
            with open_chart(clinician, patient.id, Purpose.TREATMENT, for_update=True) as chart:
                chart.record_change(["phone"], "patient_request")
                chart.patient.phone = "+14155550111"
                chart.patient.save(update_fields=["phone", "updated_at"])
            stored = Patient.objects.filter(pk=patient.id).values_list("phone", flat=True).first()
            out["sealed_under"] = int(stored.split(":")[2])
            keys.clear_process_cache()  # a fresh process reads it back
            with open_chart(clinician, patient.id, Purpose.TREATMENT) as chart:
                out["after"] = chart.patient.phone
    return out


def test_a_shred_in_another_process_is_never_read_through_the_cached_key(tmp_path, concurrency_db):
    out = run_scenario(tmp_path, scenario_cached_key_after_another_process_changes_it, action="shred", tombstones="here")
    assert (out["before"], out["cached"], out["still_cached_in_a"]) == ("Ada", True, True)
    assert out["after"] == "refused:patient_shredded"
    assert out["direct"] == "erased"


def test_a_shred_on_another_node_is_stopped_by_the_key_generation_alone(tmp_path, concurrency_db):
    out = run_scenario(tmp_path, scenario_cached_key_after_another_process_changes_it, action="shred", tombstones="elsewhere")
    assert (out["before"], out["cached"], out["still_cached_in_a"]) == ("Ada", True, True)
    assert out["after"] == "refused:patient_inactive"  # the row says so; the key is not even reached
    assert out["direct"] == "erased"  # and read past the door's checks, the cached key is not used


def test_a_rotation_in_another_process_makes_the_next_write_use_the_new_version(tmp_path, concurrency_db):
    out = run_scenario(tmp_path, scenario_cached_key_after_another_process_changes_it, action="rotate", tombstones="here")
    assert (out["before"], out["cached"], out["still_cached_in_a"]) == ("Ada", True, True)
    assert out["cached_active"]
    assert out["sealed_under"] == 2  # not the destroyed version 1 the cache held
    assert out["after"] == "+14155550111"


# --- the declaration in force, cached per process ---------------------------------------------------
def scenario_policy_published_on_another_connection(params):
    import datetime
    import threading

    from django.db import connection
    from django.utils import timezone

    from confide.access.door import open_chart
    from confide.access.errors import AccessRefused
    from confide.core.actors import StaffActor
    from confide.core.permissions import Role
    from confide.core.purposes import Purpose
    from confide.core.tenancy import tenant_context
    from confide.policy import services as policy_services
    from confide.policy.models import PolicyVersion
    from confide.records.services import do_create_patient

    world = new_world("policycache")
    owner = StaffActor.from_membership(world.memberships[Role.OWNER])
    out = {}

    def marketing() -> str:
        try:
            with open_chart(owner, patient.id, Purpose.MARKETING, categories={"identifiers.name"}) as chart:
                return f"opened:{chart.patient.given_name}"
        except AccessRefused as exc:
            return f"refused:{exc.code}"

    def publish_elsewhere():  # its own connection: another worker publishing
        try:
            with tenant_context(practice_id=world.practice.id):
                latest = PolicyVersion.objects.order_by("-number").first()
                resolved = dict(latest.resolved)
                resolved["purposes"] = {**resolved["purposes"], "marketing": {**resolved["purposes"]["marketing"], "needs_consent": False}}
                PolicyVersion.objects.create(
                    practice_id=world.practice.id, number=latest.number + 1, resolved=resolved,
                    digest=policy_services.digest(resolved), default_version=latest.default_version,
                    effective_at=timezone.now() - datetime.timedelta(seconds=1), summary="marketing without consent (test)",
                )  # fmt: skip
        finally:
            connection.close()

    with tenant_context(practice_id=world.practice.id):
        patient = do_create_patient(actor=owner, given_name="Ada", family_name="Lovelace")
        out["before"] = marketing()  # the schedule is now cached in this process
        out["cached"] = world.practice.id in policy_services._SCHEDULES
        worker = threading.Thread(target=publish_elsewhere)
        worker.start()
        worker.join()
        out["after"] = marketing()
    return out


def test_a_policy_version_published_by_another_worker_is_in_force_on_the_next_opening(tmp_path, concurrency_db):
    out = run_scenario(tmp_path, scenario_policy_published_on_another_connection)
    assert (out["before"], out["cached"]) == ("refused:consent_required", True)
    assert out["after"] == "opened:Ada"


# --- the consent grants, cached per process ------------------------------------------------------
def scenario_consent_withdrawn_on_another_connection(params):
    import threading

    from django.db import connection

    from confide.access.door import open_chart
    from confide.access.errors import AccessRefused
    from confide.consent import services as consent_services
    from confide.core.actors import StaffActor
    from confide.core.permissions import Role
    from confide.core.purposes import Purpose
    from confide.core.tenancy import tenant_context
    from confide.records.services import do_create_patient
    from tests.consent.helpers import by_phone

    world = new_world("consentcache")
    owner = StaffActor.from_membership(world.memberships[Role.OWNER])
    out = {}

    def marketing() -> str:
        try:
            with open_chart(owner, patient.id, Purpose.MARKETING, categories={"identifiers.name", "contact.email"}) as chart:
                return f"opened:{chart.patient.email}"
        except AccessRefused as exc:
            return f"refused:{exc.code}"

    def withdraw_elsewhere():  # its own connection: another worker recording the withdrawal
        try:
            with tenant_context(practice_id=world.practice.id):
                by_phone(world, patient.id, "marketing_email", "withdraw")
        finally:
            connection.close()

    with tenant_context(practice_id=world.practice.id):
        patient = do_create_patient(actor=owner, given_name="Ada", family_name="Lovelace", email="ada@example.test")
        by_phone(world, patient.id, "marketing_email")
        out["before"] = marketing()
        out["cached"] = any(key[1] == str(patient.id) for key in consent_services._GRANTED_AT_LENGTH)
        worker = threading.Thread(target=withdraw_elsewhere)
        worker.start()
        worker.join()
        out["after"] = marketing()
    return out


def test_a_consent_withdrawn_by_another_worker_is_in_force_on_the_next_opening(tmp_path, concurrency_db):
    out = run_scenario(tmp_path, scenario_consent_withdrawn_on_another_connection)
    assert (out["before"], out["cached"]) == ("opened:ada@example.test", True)
    assert out["after"] == "refused:consent_required"
