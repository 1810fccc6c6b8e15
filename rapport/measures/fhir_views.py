"""The FHIR export of a client's measures: for the client themselves or their therapist."""

from __future__ import annotations

import json

from allauth.account.decorators import reauthentication_required
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from rapport.accounts.models import User
from rapport.audit.services import Action, record
from rapport.care.access import Reach, access_client
from rapport.measures import fhir


@login_required
@reauthentication_required  # type: ignore[untyped-decorator,unused-ignore]
@require_http_methods(["GET"])
def measures_fhir_export(request: HttpRequest, client_id: int) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    with transaction.atomic():
        client, how = access_client(user, client_id, request=request, purpose="fhir_export")
        if how not in {Reach.SELF, Reach.CARE}:
            # Emergency access is for keeping a client safe, not for taking their data away.
            raise PermissionDenied("emergency access does not include exports")
        now = timezone.now()
        bundle = fhir.client_bundle(client, named=how == Reach.SELF, now=now)
        record(
            Action.MEASURES_EXPORTED,
            actor=user,
            request=request,
            obj=client,
            client=client,
            format="fhir-r4",
            entries=len(bundle["entry"]),
            via=how,
        )
    response = HttpResponse(json.dumps(bundle, ensure_ascii=False), content_type=fhir.MEDIA_TYPE)
    filename = f"rapport-measures-{now.date().isoformat()}.json"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
