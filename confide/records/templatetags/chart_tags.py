from django import template

register = template.Library()


@register.filter
def version_of(clinical_list, item_id: str) -> str:
    """The version of an item as this page shows it, for its mark form (services.item_version)."""
    return clinical_list.versions.get(str(item_id), "")
