"""disc part: the accounting panel's fee line (D8), computed from the request it shows."""

from django import template

register = template.Library()


@register.simple_tag
def accounting_fee(req) -> str:
    """"" when the accounting is free (the first in 12 months), else the fee as money text."""
    from confide.rights.accounting import fee_due

    if getattr(req, "patient_id", None) is None:
        return ""
    fee = fee_due(practice_id=req.practice_id, patient_id=req.patient_id)
    return f"{fee / 100:.2f}" if fee else ""
