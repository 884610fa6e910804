from django import template

register = template.Library()


@register.filter
def answer(values: dict, question_id: str) -> str:
    """What the visitor typed for a question, put back after a mistake (`q_<id>` in the POST)."""
    return (values or {}).get(f"q_{question_id}", "")
