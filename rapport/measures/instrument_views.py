"""The practice admin's instruments: the list, importing one under the practice's licence, and
an instrument's definition with its licence record.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from rapport.accounts.decorators import role_required
from rapport.accounts.models import Role, User
from rapport.measures.errors import MeasureError
from rapport.measures.forms import InstrumentForm, InstrumentImportForm
from rapport.measures.instruments import definition_of, import_instrument, update_instrument
from rapport.measures.models import Instrument


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def instruments(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    form = InstrumentImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            instrument = import_instrument(
                user,
                form.cleaned_data["definition_file"],
                form.cleaned_data["licence_record"],
                request=request,
            )
        except MeasureError as exc:
            field = "licence_record" if getattr(exc, "code", None) == "licence" else None
            form.add_error(field or "definition_file", exc)
        else:
            messages.success(
                request,
                _("%(name)s imported. Therapists can now assign it.")
                % {"name": instrument.short_name},
            )
            return redirect("instrument_detail", instrument.pk)
    rows = Instrument.objects.defer("definition").order_by("-builtin", "short_name", "-imported_at")
    return render(
        request,
        "measures/instruments.html",
        {"form": form, "instruments": rows},
        status=400 if form.is_bound else 200,
    )


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def instrument_detail(request: HttpRequest, instrument_id: int) -> HttpResponse:
    instrument = Instrument.objects.filter(pk=instrument_id).first()
    if instrument is None:
        raise Http404("No such instrument.")
    user: User = request.user  # type: ignore[assignment]
    form = InstrumentForm(
        request.POST or None,
        initial={"licence_record": instrument.licence_record, "is_active": instrument.is_active},
    )
    if request.method == "POST" and form.is_valid():
        try:
            update_instrument(
                user,
                instrument,
                licence_record=form.cleaned_data["licence_record"],
                is_active=form.cleaned_data["is_active"],
                request=request,
            )
        except MeasureError as exc:
            form.add_error("licence_record", exc)
        else:
            messages.success(request, _("Saved."))
            return redirect("instrument_detail", instrument.pk)
    definition = definition_of(instrument)
    options = {
        item.option_set: [f"{o.value} = {o.label}" for o in item.options]
        for item in definition.items
    }
    return render(
        request,
        "measures/instrument_detail.html",
        {
            "instrument": instrument,
            "definition": definition,
            "option_sets": options,
            "form": form,
        },
        status=400 if form.is_bound else 200,
    )
