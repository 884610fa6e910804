"""Helpers for the export tests: a patient holding one of everything, an export run for a request."""

from __future__ import annotations

import io
import json
import zipfile

from confide.core.tenancy import tenant_context
from confide.rights.models import Export
from tests.portal_world import actor_for, link, make_portal_user


def portal_copy_request(patient, email="copy@export.test", kind="copy"):
    """A verified portal `copy` request for `patient` (queues its export); (request row, actor)."""
    from confide.rights.services import check_open_request

    own = link(make_portal_user(email), patient)
    actor = actor_for(own)
    with tenant_context(practice_id=patient.practice_id):
        made = check_open_request(actor=actor, kind=kind, detail="")
    return made, actor


def export_of(request_row) -> Export:
    with tenant_context(practice_id=request_row.practice_id):
        return Export.objects.filter(request_id=request_row.pk).order_by("-created_at").first()


def zip_of(path_or_bytes) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(path_or_bytes) if isinstance(path_or_bytes, bytes) else path_or_bytes)


def data_of(zf: zipfile.ZipFile) -> dict:
    return json.loads(zf.read("data.json"))
