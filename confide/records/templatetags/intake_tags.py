from django import template

register = template.Library()


@register.filter
def answer(values: dict, question_id: str) -> str:
    """What the visitor typed for a question, put back after a mistake (`q_<id>` in the POST)."""
    return (values or {}).get(f"q_{question_id}", "")


@register.filter
def get_item(mapping: dict, key: str):
    """mapping[key], or "" (the consultation form's values and problems, by input name)."""
    return (mapping or {}).get(key, "")
