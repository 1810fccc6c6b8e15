"""The therapist's intake section of a client (what was sent, what came back, send another) and
the practice admin's page of intake forms (add a form or a version, choose the default).
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from rapport.accounts.decorators import role_required
from rapport.accounts.models import Role, User
from rapport.care.access import Reach
from rapport.intake.access import access_client_intakes
from rapport.intake.catalogue import add_form, choose_default, newest_forms, newest_version
from rapport.intake.definitions import DefinitionError
from rapport.intake.models import Intake, IntakeForm
from rapport.intake.services import send_intake

DEFINITION_MAX = 200_000


class SendForm(forms.Form):
    form_key = forms.ChoiceField(label=gettext_lazy("Form to send"))

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["form_key"].choices = [(f.key, f.name) for f in newest_forms()]  # type: ignore[attr-defined]


class AddFormForm(forms.Form):
    definition = forms.CharField(
        label=gettext_lazy("Definition (JSON)"),
        widget=forms.Textarea(attrs={"rows": 12}),
        required=False,
        max_length=DEFINITION_MAX,
    )
    upload = forms.FileField(label=gettext_lazy("Or upload a .json file"), required=False)

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        upload = data.get("upload")
        if upload is not None:
            raw = upload.read(DEFINITION_MAX + 1)
            try:
                data["definition"] = raw.decode("utf-8")
            except UnicodeDecodeError:
                self.add_error("upload", _("The file must be UTF-8 text."))
        if not data.get("definition") and not self.errors:
            self.add_error("definition", _("Paste a definition or upload a file."))
        return data


@role_required(Role.THERAPIST, Role.ADMIN)
@require_http_methods(["GET", "POST"])
def client_intakes(request: HttpRequest, client_id: int) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    client, how = access_client_intakes(
        user, client_id, request=request, care_only=request.method == "POST"
    )
    form = SendForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        chosen = newest_version(form.cleaned_data["form_key"])
        if chosen is not None:
            send_intake(client, chosen, sent_by=user)
            messages.success(
                request, _("Sent. The client has been told by email, without details.")
            )
            return redirect("client_intakes", client.pk)
    intakes = (
        Intake.objects.filter(client=client)
        .select_related("form")
        .prefetch_related("submissions")
        .defer("draft", "form__definition")
    )
    return render(
        request,
        "intake/client_intakes.html",
        {"client": client, "intakes": intakes, "form": form, "may_send": how == Reach.CARE},
        status=400 if form.is_bound else 200,
    )


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def intake_forms(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    form = AddFormForm()
    status = 200
    if request.method == "POST" and request.POST.get("action") == "default":
        try:
            chosen = choose_default(request.POST.get("key", ""), user)
        except DefinitionError as exc:
            messages.error(request, exc.problems[0])
        else:
            messages.success(
                request, _("“%(name)s” is now sent when care starts.") % {"name": chosen.name}
            )
        return redirect("intake_forms")
    if request.method == "POST":
        form = AddFormForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                added = add_form(form.cleaned_data["definition"], user)
            except DefinitionError as exc:
                for problem in exc.problems:
                    form.add_error("definition", problem)
            else:
                messages.success(
                    request,
                    _("Added %(name)s, version %(v)s.") % {"name": added.name, "v": added.version},
                )
                return redirect("intake_forms")
        status = 400
    rows = IntakeForm.objects.select_related("added_by").defer("definition")
    default = IntakeForm.objects.filter(is_default=True).values_list("key", flat=True).first()
    return render(
        request,
        "intake/forms.html",
        {"form": form, "rows": rows, "default_key": default},
        status=status,
    )
