from django import template

from confide.records.values import phone_for_display

register = template.Library()


@register.filter
def version_of(clinical_list, item_id: str) -> str:
    """The version of an item as this page shows it, for its mark form (services.item_version)."""
    return clinical_list.versions.get(str(item_id), "")


@register.filter
def phone(value) -> str:
    """A stored phone number as people read it (national format for the practice's country)."""
    return phone_for_display(value)
