"""The first-run page: create the first practice on an empty server (confide/site/practices.py)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from confide.accounts.staff_forms import FirstRunForm
from confide.core.decorators import route
from confide.core.models import Practice
from confide.core.views import render_error
from confide.site import practices


@route("site:setup")
def setup(request: HttpRequest) -> HttpResponse:
    # Once any practice exists there is nothing to set up here, and nothing to tell a visitor.
    if Practice.objects.exists():
        return render_error(request, 404)
    practices.ensure_setup_code()  # made on the server for the operator to read; never shown here
    form = FirstRunForm(request.POST or None)
    if request.method == "POST":
        # Every problem at once: the code and the practice's fields are checked whatever else failed.
        form.is_valid()
        posted = {name: request.POST.get(name, "") for name in ("setup_code", "name", "slug", "owner_email")}
        if "setup_code" not in form.errors and not practices.setup_code_matches(posted["setup_code"]):
            form.add_error("setup_code", "That is not the setup code. Run `confide practice setup-code` on the server to see it.")
        try:
            practices.validate_practice(posted["name"], posted["slug"], posted["owner_email"])
        except practices.PracticeInputError as exc:
            for field, message in exc.errors.items():
                if field not in form.errors:
                    form.add_error(field, message)
        if not form.errors:
            data = form.cleaned_data
            try:
                practice, invitation = practices.create_practice(
                    name=data["name"], slug=data["slug"], owner_email=data["owner_email"], via="first-run", first_run=True
                )
            except practices.FirstRunClosed:
                return render_error(request, 404)
            except practices.PracticeInputError as exc:
                for field, message in exc.errors.items():
                    form.add_error(field, message)
            else:
                return render(request, "site/setup_done.html", {"practice": practice, "email": invitation.email})
    return render(request, "site/setup.html", {"form": form}, status=400 if form.errors else 200)
