"""Every model that holds personal data must be reachable from the data subject (Fides' lesson).

Export and erasure start at a `Patient` and follow its relations; a table holding PHI that no
path from `Patient` reaches would be silently left out of both. `problems()` walks every
installed model and reports, for each model with an encrypted field:

* a field whose category is not in the declared taxonomy (confide/policy/default.toml);
* a field whose `subject_field` (whose key encrypts it) is not the patient the row belongs to;
* a model with no chain of foreign keys to `records.Patient` — unless it declares itself a
  data subject of its own (`DATA_SUBJECT_ROOT = True`: an online consultation before it is
  accepted into a chart), whose fields must then all be sealed under its own id.

tests/policy/test_reachability.py runs it over the real app registry (the build fails on any
problem) and over a model made unreachable on purpose (so the check itself is shown to work).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from django.apps import apps
from django.db import models

from confide.policy.loader import load_default
from confide.vault.fields import encrypted_fields

PATIENT = ("records", "Patient")
MAX_DEPTH = 4


def path_to_patient(model) -> list[str] | None:
    """Field names from `model` to Patient along foreign keys (forward), or None."""
    if (model._meta.app_label, model._meta.object_name) == PATIENT:
        return []
    seen = {model}
    queue = deque([(model, [])])
    while queue:
        current, path = queue.popleft()
        if len(path) >= MAX_DEPTH:
            continue
        for field in current._meta.concrete_fields:
            if not isinstance(field, (models.ForeignKey, models.OneToOneField)):
                continue
            target = field.related_model
            step = [*path, field.name]
            if isinstance(target, str):  # a lazy reference not resolved in this registry ("records.Patient")
                if tuple(target.split(".", 1)) == PATIENT:
                    return step
                continue
            if (target._meta.app_label, target._meta.object_name) == PATIENT:
                return step
            if target not in seen:
                seen.add(target)
                queue.append((target, step))
    return None


def _subject_is_the_patient(model, field, path: list[str]) -> bool:
    if not path:  # the Patient itself: its own key
        return field.subject_field in {"id", "pk"}
    first = model._meta.get_field(path[0])
    return field.subject_field in {first.attname, first.name} and len(path) == 1


def problems(models_to_check: Iterable | None = None) -> list[str]:
    categories = set(load_default().categories)
    found = []
    for model in models_to_check if models_to_check is not None else apps.get_models():
        fields = encrypted_fields(model)
        if not fields:
            continue
        label = model._meta.label
        for field in fields:
            if field.category not in categories:
                found.append(f"{label}.{field.name}: category {field.category!r} is not in the declared taxonomy")
        if all(field.scope != "s" for field in fields):
            continue  # sealed under the practice's key: practice-owned secrets, no patient's data
        if getattr(model, "DATA_SUBJECT_ROOT", False):
            # A subject of its own (an online consultation before it becomes a patient): every
            # field under the row's own key, so shredding that key erases it all.
            for field in fields:
                if field.subject_field not in {"id", "pk"}:
                    found.append(f"{label}.{field.name}: a data-subject root seals under its own id, not {field.subject_field!r}")
            continue
        path = path_to_patient(model)
        if path is None:
            found.append(f"{label}: holds personal data but no chain of foreign keys reaches records.Patient")
            continue
        for field in fields:
            if field.scope == "s" and not _subject_is_the_patient(model, field, path):
                found.append(f"{label}.{field.name}: encrypted under {field.subject_field!r}, not the patient the row belongs to")
    return found
