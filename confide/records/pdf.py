"""A readable PDF from a Django template, laid out by WeasyPrint (used by the portal's "Download
my record" summary and by the rights export's summary.pdf; it sits in records so that both the
portal and confide/rights, below it, can use it). Nothing is fetched: the styles are in the
template and no URL is resolved (no base URL)."""

from __future__ import annotations

from django.template.loader import render_to_string


def render_document(template: str, context: dict):
    """The laid-out document (a `weasyprint.Document`)."""
    from weasyprint import HTML

    return HTML(string=render_to_string(template, context), base_url=None).render()


def render_pdf(template: str, context: dict) -> bytes:
    return render_document(template, context).write_pdf()
