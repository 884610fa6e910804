"""Issue 13, item 5: no N+1 on the chart's pages as data grows. Each tab is loaded with a small
chart and again after the chart (and the practice around it) has grown: more list items, files,
photos, psychotherapy notes, accepted consultations, other patients and audit entries. The
statement count must not grow, and stays under a ceiling per tab (django_assert_max_num_queries).
Not here: the notes tab, the patient list, search and the privacy tab's entry list (paged in
SQL by their own work)."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from tests.records.conftest import url
from tests.records.consultations import form_data
from tests.records.uploads import pdf_upload, png_upload

# Ceilings per tab for a clinician, as measured on SQLite inside a test's transaction (where
# the keyset is read once per request: the process cache fills on commit). They include the
# request's own work (session, user, authenticator, membership, its save of the session, the
# notice banner's policy read) and today's audit append (six statements, one INSERT once the
# audit log's own work lands): the door's share is its two reads.
TABS = {
    "records:chart": 23,  # + the patient's merges (the "merged from" line)
    "records:chart-clinical": 23,
    "records:chart-documents": 26,  # + the files and photos, one query each kind, and their count
    "records:chart-consultations": 22,
    "records:chart-psychotherapy": 24,  # its own door: the author's notes in the same opening
}
# PostgreSQL: four more, the audit log's `set_config('confide.audit_chain', …)` statements
# around its appends (measured; constant as the chart grows like the rest).
POSTGRES_EXTRA = 4


def _grow(world, chart, n: int) -> None:
    """n more of everything a chart page may list, and the practice around it."""
    from confide.core.actors import StaffActor
    from confide.records.files import do_add_file
    from confide.records.notes import do_create_psychotherapy_note
    from confide.records.services import do_add_item, do_create_patient

    clinician = StaffActor.from_membership(world.a.memberships[Role.CLINICIAN])
    with tenant_context(practice_id=world.a.practice.id):
        for k in range(n):
            do_add_item(actor=clinician, patient_id=chart.patient.id, list_name="medications",
                        item={"name": f"drug {k}", "kind": "prescription", "dose": "1 mg"})  # fmt: skip
            do_add_item(actor=clinician, patient_id=chart.patient.id, list_name="allergies", item={"substance": f"thing {k}"})
            do_add_file(actor=clinician, patient_id=chart.patient.id, kind="document", upload=pdf_upload(), title=f"Letter {k}")
            do_add_file(actor=clinician, patient_id=chart.patient.id, kind="photo", upload=png_upload(), title=f"Photo {k}")
            do_create_psychotherapy_note(actor=clinician, patient_id=chart.patient.id, text=f"Session {k}.")
            do_create_patient(actor=clinician, given_name=f"Other{k}", family_name="Patient")
    for _ in range(n):
        _accept_consultation(world, chart)


def _accept_consultation(world, chart) -> None:
    cache.clear()  # the public form's rate limit
    response = Client().post(
        reverse("intake:consult", kwargs={"practice_slug": world.a.practice.slug}),
        {**form_data(world.a.practice, given_name="Marisol", family_name="Quintero"), "q_photo": png_upload()},
    )
    assert response.status_code == 200
    from confide.core.actors import StaffActor
    from confide.records.intake import do_accept
    from confide.records.models import IntakeSubmission

    with tenant_context(practice_id=world.a.practice.id):
        submission = IntakeSubmission.objects.filter(status=IntakeSubmission.Status.RECEIVED).latest("created_at")
        do_accept(actor=StaffActor.from_membership(world.a.memberships[Role.CLINICIAN]), submission_id=submission.pk,
                  merge_into=chart.patient.id)  # fmt: skip


def _count(client, path: str) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200, path
    return len(captured.captured_queries), [q["sql"] for q in captured.captured_queries]


@pytest.mark.parametrize("tab", list(TABS))
def test_chart_tabs_cost_the_same_statements_as_the_chart_grows(world, chart, signed_in, tab, django_assert_max_num_queries):
    client = signed_in(Role.CLINICIAN)
    _grow(world, chart, 1)
    client.get(url(tab, chart.patient))  # the first request of a session settles its own rows
    small, _ = _count(client, url(tab, chart.patient))
    _grow(world, chart, 4)
    with django_assert_max_num_queries(TABS[tab] + (POSTGRES_EXTRA if connection.vendor == "postgresql" else 0)):
        large, statements = _count(client, url(tab, chart.patient))
    assert large == small, statements
