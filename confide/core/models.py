"""Practice (the tenant) and the base class of every tenant-owned model."""

from __future__ import annotations

import uuid

from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models, router, transaction

from confide.core import tenancy
from confide.core.errors import NoPracticeContext
from confide.core.text import single_line


class TimestampedModel(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Practice(TimestampedModel):
    """A practice is the tenant: every piece of practice data belongs to exactly one."""

    slug = models.SlugField(
        max_length=50,
        unique=True,
        validators=[RegexValidator(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$", "lower-case letters, digits and dashes"), single_line],
    )
    # One line: it is the Subject of e-mails (a line break there is a header injection).
    name = models.CharField(max_length=200, validators=[single_line])
    # ACC2: staff whose role can see PHI must enrol in MFA; on unless the practice turns it off.
    mfa_required = models.BooleanField(default=True)
    # ACC2 for patients: a portal account must add a second factor (an authenticator app or a
    # passkey) before it opens anything; off by default, offered to every patient either way.
    portal_mfa_required = models.BooleanField(default=False)
    # ACC6: a session idle this long is signed out.
    idle_timeout_minutes = models.PositiveSmallIntegerField(
        default=15, validators=[MinValueValidator(5), MaxValueValidator(240)]
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.slug

    def save(self, *args, **kwargs):
        # A new practice's first policy version and its audit chain's genesis entry are written
        # by post_save receivers (policy, audit): one transaction, so none exists without the rest.
        with transaction.atomic(using=kwargs.get("using") or router.db_for_write(type(self), instance=self)):
            super().save(*args, **kwargs)


class TenantQuerySet(models.QuerySet):
    def order_by(self, *field_names):
        for name in field_names:
            if isinstance(name, str):
                first = name.lstrip("-").split("__", 1)[0]
                try:
                    field = self.model._meta.get_field(first)
                except Exception:  # FieldDoesNotExist, expressions: Django reports those itself
                    continue
                if getattr(field, "refuses_ordering", False):
                    from django.core.exceptions import FieldError

                    raise FieldError(f"{first} is encrypted: ordering by ciphertext is refused")
        return super().order_by(*field_names)


class TenantManager(models.Manager.from_queryset(TenantQuerySet)):
    """Scopes every query to the practice in context; with none in context it raises.

    Outside a context the alternative would be "all practices' rows", the one failure a
    multi-tenant health record must never have silently."""

    def get_queryset(self) -> TenantQuerySet:
        practice_id = tenancy.current_practice_id()
        if practice_id is None:
            raise NoPracticeContext(f"{self.model.__name__} queried outside a practice context")
        return super().get_queryset().filter(practice_id=practice_id)


class TenantModel(TimestampedModel):
    """Base of every tenant-owned model: practice FK, UUID key, timestamps, scoped manager.

    On PostgreSQL each subclass's table also gets a row-level-security policy (`core.rls`)."""

    practice = models.ForeignKey(Practice, on_delete=models.PROTECT, related_name="+")

    objects = TenantManager()
    # Deliberately awkward name: for system code that has to see across practices (e.g. a
    # user's own memberships at sign-in). Row-level security still applies on PostgreSQL.
    across_practices = models.Manager()

    # Extra SQL allowed by the RLS policy besides `practice_id = <context>`; see Membership.
    rls_extra_condition: str = ""

    class Meta:
        abstract = True
        base_manager_name = "across_practices"
