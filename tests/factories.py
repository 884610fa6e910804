"""factory_boy factories for the test world."""

from __future__ import annotations

import factory

from confide.accounts.models import Membership, RecoveryCodeDevice, TOTPDevice, User
from confide.core.models import Practice
from confide.core.permissions import Role

TEST_PASSWORD = "Correct-Horse-Battery-9"


class PracticeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Practice
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"practice-{n}")
    name = factory.LazyAttribute(lambda o: f"Practice {o.slug}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    display_name = factory.Sequence(lambda n: f"User {n}")
    password = factory.PostGenerationMethodCall("set_password", TEST_PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    practice = factory.SubFactory(PracticeFactory)
    role = Role.CLINICIAN


def enrol_totp(user: User, secret: bytes | None = None) -> TOTPDevice:
    """Give `user` a confirmed authenticator (and recovery codes); returns the device."""
    import secrets as _secrets

    device = TOTPDevice(user=user, name="test authenticator", confirmed=True)
    device.set_secret(secret or _secrets.token_bytes(20))
    device.save()
    recovery, _ = RecoveryCodeDevice.objects.get_or_create(user=user, defaults={"name": "Recovery codes", "confirmed": True})
    device.recovery_codes = recovery.regenerate()
    return device
