"""Telehealth consent: the practice admin publishes a version; the client reads and signs it."""

from __future__ import annotations

from allauth.account.decorators import reauthentication_required
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from rapport.accounts.decorators import role_required
from rapport.accounts.models import Role, User
from rapport.scheduling.consent import (
    consent_versions,
    current_consent,
    publish_consent,
    sign_consent,
    signature_of,
)
from rapport.scheduling.forms import ConsentDocumentForm, ConsentSignatureForm, consent_initial


@role_required(Role.ADMIN)
@reauthentication_required  # type: ignore[untyped-decorator,unused-ignore]
@require_http_methods(["GET", "POST"])
def consent_admin(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    current = current_consent()
    form = ConsentDocumentForm(request.POST or None, initial=consent_initial(current))
    if request.method == "POST" and form.is_valid():
        title, body = form.cleaned_data["title"].strip(), form.cleaned_data["body"].strip()
        if current is not None and (current.title, current.body) == (title, body):
            form.add_error(
                None,
                _("This is the current version already. Change the text to publish a new one."),
            )
        else:
            document = publish_consent(user, title=title, body=body, request=request)
            messages.success(
                request,
                _("Version %(version)d published. Clients sign it before their next booking.")
                % {"version": document.version},
            )
            return redirect("consent_admin")
    return render(
        request, "scheduling/consent_admin.html", {"form": form, "versions": consent_versions()}
    )


def _safe_next(request: HttpRequest, value: str) -> str:
    if value and url_has_allowed_host_and_scheme(
        value, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return value
    return reverse("home")


@role_required(Role.CLIENT)
@require_http_methods(["GET", "POST"])
def consent_sign(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    document = current_consent()
    next_url = _safe_next(request, request.POST.get("next") or request.GET.get("next", ""))
    initial = {"document": document.pk if document else None}
    form = ConsentSignatureForm(request.POST or None, initial=initial)
    if request.method == "POST" and document is not None and form.is_valid():
        try:
            sign_consent(
                user,
                form.cleaned_data["document"],
                typed_name=form.cleaned_data["typed_name"],
                request=request,
            )
        except ValidationError as exc:
            if form.cleaned_data["document"] != document.pk:
                # Sign the version now shown, not the one read before.
                form = ConsentSignatureForm({**request.POST.dict(), "document": document.pk})
                form.is_valid()
            form.add_error("typed_name", exc)
        else:
            messages.success(request, _("Thank you. Your signature is recorded."))
            return redirect(next_url)
    signature = signature_of(user, document) if document is not None else None
    return render(
        request,
        "scheduling/consent_sign.html",
        {"document": document, "signature": signature, "form": form, "next": next_url},
    )
