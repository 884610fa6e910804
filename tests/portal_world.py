"""Portal people for the tests: an adult patient with a portal account, a minor and the parent
who represents them (the parent is also a patient of the practice: one login, two records), made
with the models (the invitation and guardian services have tests of their own).

    pw = portal_world(world.a)
    client = portal_sign_in(client, pw.adult.user)
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.utils import timezone

from confide.accounts.models import LinkKind, PortalLink, User, UserKind
from confide.core.actors import PatientActor, StaffActor
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from tests.access.conftest import FULL
from tests.conftest import PASSWORD


@dataclass
class PortalPerson:
    user: User
    patient: object
    link: PortalLink

    @property
    def actor(self) -> PatientActor:
        return actor_for(self.link)


def actor_for(link: PortalLink) -> PatientActor:
    return PatientActor(
        practice_id=link.practice_id, patient_id=link.patient_id, user_id=link.user_id, link_id=link.id,
        representative=link.kind == LinkKind.REPRESENTATIVE,
    )


@dataclass
class PortalWorld:
    adult: PortalPerson  # an adult patient with their own account
    parent: PortalPerson  # a parent, patient too, own record
    child: object  # the minor's Patient
    child_link: PortalLink  # the parent's representative link to the child

    @property
    def child_actor(self) -> PatientActor:
        return actor_for(self.child_link)


def years_ago(years: int, days: int = 0) -> datetime.date:
    today = timezone.localdate()
    try:
        born = today.replace(year=today.year - years)
    except ValueError:  # 29 February
        born = today.replace(year=today.year - years, day=28)
    return born - datetime.timedelta(days=days)


def make_portal_user(email: str, display_name: str = "Portal Person") -> User:
    return User.objects.create_user(email=email, password=PASSWORD, display_name=display_name, kind=UserKind.PATIENT)


def link(user: User, patient, *, kind: str = LinkKind.SELF, relationship: str = "", verified_by=None) -> PortalLink:
    with tenant_context(practice_id=patient.practice_id):
        return PortalLink.objects.create(
            practice_id=patient.practice_id, user=user, patient_id=patient.pk, kind=kind,
            relationship=relationship, verified_by=verified_by,
        )


def create_patient(pw, **overrides):
    from confide.records.services import do_create_patient

    with tenant_context(practice_id=pw.practice.id):
        return do_create_patient(actor=StaffActor.from_membership(pw.memberships[Role.CLINICIAN]), **(FULL | overrides))


def portal_world(pw) -> PortalWorld:
    slug = pw.practice.slug
    adult_patient = create_patient(pw, given_name="Ada", family_name="Portal", preferred_name="", email=f"ada@{slug}.portal.test")
    adult_user = make_portal_user(f"ada@{slug}.portal.test", "Ada")
    adult = PortalPerson(adult_user, adult_patient, link(adult_user, adult_patient))
    parent_patient = create_patient(pw, given_name="Paula", family_name="Parent", preferred_name="", email=f"paula@{slug}.portal.test")
    parent_user = make_portal_user(f"paula@{slug}.portal.test", "Paula")
    parent = PortalPerson(parent_user, parent_patient, link(parent_user, parent_patient))
    child = create_patient(
        pw, given_name="Kit", family_name="Parent", preferred_name="", date_of_birth=years_ago(10), email="",
        guardian={"name": "Paula Parent", "relationship": "mother", "phone": "+1 415 555 0151"},
    )
    child_link = link(parent_user, child, kind=LinkKind.REPRESENTATIVE, relationship="mother", verified_by=pw.owner)
    return PortalWorld(adult=adult, parent=parent, child=child, child_link=child_link)


def portal_sign_in(client, user, *, verified: bool = True):
    """A signed-in portal session (force_login; the second factor marked used where there is one)."""
    import time

    from django_otp import DEVICE_ID_SESSION_KEY, devices_for_user

    from confide.core.middleware import SESSION_AUTH_FRESH_AT

    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    session = client.session
    device = next(iter(devices_for_user(user, confirmed=True)), None)
    if verified and device is not None:
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session[SESSION_AUTH_FRESH_AT] = int(time.time())
    session.save()
    return client
