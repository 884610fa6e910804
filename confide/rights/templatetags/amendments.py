"""`{% amendment_panel req %}`: the amendment panel of a `correct` request, for whoever is
looking (the request page passes only `req`). Content for roles that decide amendments;
statuses for the privacy officer; nothing for anyone else."""

from django import template

from confide.core.errors import Forbidden

register = template.Library()


@register.inclusion_tag("rights/panels/_amendment.html", takes_context=True)
def amendment_panel(context, req):
    from confide.rights.amendments import amendment_view

    request = context.get("request")
    try:
        view = amendment_view(actor=request.actor, request_id=req.pk, request=request)
    except Forbidden:
        view = None
    return {"view": view, "req": req, "csrf_token": context.get("csrf_token"), "form_error": context.get("form_error", "")}
