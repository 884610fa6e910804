"""Personal representatives of minors (HIPAA §164.502(g); MIN3), the staff side: whether a record
may get a parent's or guardian's portal link at all (`check_representative_allowed`), and the
authorization document kept with such a link (`do_attach_representative_document`).

A representative link is for a minor: the chart door reads the date of birth (registration, for
operations) and an adult's record, or one without a date of birth, is refused with a message the
staff member can act on. At 18 the links end by themselves (records/majority.py).
"""

from __future__ import annotations

import uuid

from django.utils import timezone

from confide.access import policy
from confide.access.door import open_chart
from confide.core.actors import StaffActor
from confide.core.errors import Forbidden, InvalidInput, NotFound
from confide.core.permissions import Perm
from confide.core.purposes import Purpose
from confide.records import files
from confide.records.majority import MAJORITY, age_on
from confide.records.models import RepresentativeDocument
from confide.vault.files import EncryptedStorage

ADULT_MESSAGE = (
    "This patient is 18 or older. A parent or guardian cannot get portal access to an adult's record: "
    "invite the patient to their own account instead."
)
NO_DOB_MESSAGE = "Add the patient's date of birth first: a parent or guardian gets portal access only to the record of someone under 18."


def check_representative_allowed(actor: StaffActor, patient_id: uuid.UUID, *, request=None) -> None:
    """InvalidInput unless the patient is under 18 today (the practice's calendar). The date of
    birth is read through the chart door as `actor` (identifiers.dob, purpose operations: one
    audited opening); another practice's patient is the door's NotFound, a role without the
    date of birth its AccessRefused."""
    with open_chart(actor, patient_id, Purpose.OPERATIONS, categories={policy.DOB}, request=request) as chart:
        born = chart.patient.date_of_birth
    if born is None:
        raise InvalidInput(NO_DOB_MESSAGE)
    if age_on(born, timezone.localdate()) >= MAJORITY:
        raise InvalidInput(ADULT_MESSAGE)


# --- the authorization document kept with a guardian's link -----------------------------------------
def _representative_link(patient_id, link_id):
    """The practice's representative link `link_id` to this patient, else NotFound: another
    practice's link (the tenant manager never sees it), another patient's, or a self link all
    answer like a missing one."""
    from confide.accounts.models import LinkKind, PortalLink

    try:
        pk, patient = uuid.UUID(str(link_id)), uuid.UUID(str(patient_id))
    except ValueError:
        raise NotFound("portal link") from None
    found = PortalLink.objects.filter(pk=pk, patient_id=patient, kind=LinkKind.REPRESENTATIVE).first()
    if found is None:
        raise NotFound("portal link")
    return found


def access_representative_link(actor: StaffActor, patient_id, link_id):
    """The link a staff page acts on (scoped fetch + authorization: STYLE.md): NotFound for
    another practice's, another patient's or a missing link; Forbidden without registration rights."""
    if not isinstance(actor, StaffActor) or not actor.has(Perm.REGISTRATION_WRITE):
        raise Forbidden(Perm.REGISTRATION_WRITE)
    return _representative_link(patient_id, link_id)


def do_attach_representative_document(
    *, actor: StaffActor, patient_id, link_id, upload, title: str, request=None, storage: EncryptedStorage | None = None
) -> RepresentativeDocument:
    """Keep the document that shows a parent's or guardian's authority (a guardianship order, a
    birth certificate) with their portal link to the child's record: stored like the chart's
    documents (same types, size caps and damage checks: records/files.py), encrypted under the
    CHILD's key, one `records:file:added` entry (kind "authorization", the link's id). Staff with
    registration rights only; an ended link takes no new document."""
    if not isinstance(actor, StaffActor) or not actor.has(Perm.REGISTRATION_WRITE):
        raise Forbidden(Perm.REGISTRATION_WRITE)
    link = _representative_link(patient_id, link_id)
    if not link.is_active:
        raise InvalidInput("This parent's or guardian's access has ended: a document can be added only to access that is open.")
    return files.store_file(
        actor=actor, patient_id=link.patient_id, kind="authorization", upload=upload, title=title, request=request,
        storage=storage, fields={"portal_link": link}, detail={"portal_link_id": str(link.pk)},
    )  # fmt: skip


def list_representative_documents(actor: StaffActor, patient_id, link_id, *, request=None) -> list[dict]:
    """The documents kept with one link (for the chart's "Portal access" panel), through the door."""
    link = _representative_link(patient_id, link_id)
    with open_chart(actor, link.patient_id, Purpose.TREATMENT, categories={RepresentativeDocument.CATEGORY}, request=request):
        rows = RepresentativeDocument.objects.filter(patient_id=link.patient_id, portal_link=link).order_by("-created_at", "-id")
        return [{"id": r.pk, "title": str(r.title), "content_type": r.content_type, "size": r.size, "created_at": r.created_at} for r in rows]
