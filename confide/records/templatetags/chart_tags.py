from django import template

from confide.records.services import CARE_REASON_LABELS
from confide.records.values import phone_for_display, unit_for_display

register = template.Library()


@register.filter
def version_of(clinical_list, item_id: str) -> str:
    """The version of an item as this page shows it, for its mark form (services.item_version)."""
    return clinical_list.versions.get(str(item_id), "")


@register.filter
def phone(value) -> str:
    """A stored phone number as people read it (national format for the practice's country)."""
    return phone_for_display(value)


@register.filter
def unit(value) -> str:
    """A UCUM unit as people read it ("mm[Hg]" → "mmHg", "{score}" → nothing)."""
    return unit_for_display(value)


@register.filter
def status_label(value) -> str:
    """An item status in words ("entered-in-error" → "Entered in error")."""
    return str(value or "").replace("-", " ").capitalize()


@register.filter
def care_reason(value) -> str:
    """A clinical reason code in words ("side-effects" → "Side effects")."""
    return CARE_REASON_LABELS.get(str(value or ""), "")


@register.filter
def measure(value) -> str:
    """A measured value as written by hand: up to three decimals, no trailing zeros (37.2, 410)."""
    try:
        return f"{float(value):.3f}".rstrip("0").rstrip(".")
    except (TypeError, ValueError):
        return ""
