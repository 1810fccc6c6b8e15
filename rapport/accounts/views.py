"""Account screens: preferences, sign out everywhere, invitations."""

from __future__ import annotations

from allauth.account.decorators import reauthentication_required
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from rapport.accounts import services
from rapport.accounts.decorators import role_required
from rapport.accounts.forms import AcceptInvitationForm, InviteForm, PreferencesForm
from rapport.accounts.models import Invitation, Role, User
from rapport.audit.services import Action, record
from rapport.core import outbox


@login_required
@require_http_methods(["GET", "POST"])
def account_settings(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    form = PreferencesForm(request.POST or None, instance=user)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            form.save()
            record(
                Action.PREFERENCES_CHANGED,
                request=request,
                obj=user,
                fields=sorted(form.changed_data),
            )
        messages.success(request, _("Your preferences are saved."))
        return redirect("account_settings")
    return render(request, "accounts/settings.html", {"form": form})


@login_required
@require_POST
def sign_out_everywhere(request: HttpRequest) -> HttpResponse:
    services.sign_out_everywhere(request.user, request)  # type: ignore[arg-type]
    messages.success(request, _("You are signed out on every device."))
    return redirect("account_login")


@login_required
@require_GET
def session_status(request: HttpRequest) -> HttpResponse:
    """204 while this browser is signed in; otherwise the usual redirect to sign in. Pages ask
    after the server refused their socket, which an expired session also causes."""
    return HttpResponse(status=204)


def invites_staff(request: HttpRequest) -> bool:
    return bool(request.user.is_practice_admin)  # type: ignore[union-attr]


@role_required(Role.THERAPIST, Role.ADMIN)
# Sending a staff invitation needs sudo mode (a new therapist account can be given clients).
@reauthentication_required(allow_get=True, enabled=invites_staff)  # type: ignore[untyped-decorator,unused-ignore]
@require_http_methods(["GET", "POST"])
def invitations(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    form = InviteForm(request.POST or None, inviter=user)
    if request.method == "POST" and form.is_valid():
        try:
            invitation, _token = services.invite(
                user,
                email=form.cleaned_data["email"],
                full_name=form.cleaned_data["full_name"],
                role=form.cleaned_data["role"],
                request=request,
            )
        except ValidationError as exc:
            form.add_error("email", exc)
        else:
            messages.success(
                request, _("Invitation sent to %(email)s.") % {"email": invitation.email}
            )
            return redirect("invitations")
    visible = Invitation.objects.select_related("invited_by", "accepted_user")
    if user.is_practice_admin:
        # Only admins learn that an address already had an account (the inviter is answered
        # as for a new one: ``services.invite``).
        existing = User.objects.filter(email__iexact=OuterRef("email"))
        visible = visible.annotate(has_account=Exists(existing))
    else:
        visible = visible.filter(invited_by=user)
    return render(
        request,
        "accounts/invitations.html",
        {"form": form, "invitations": visible[:200], "days": settings.INVITATION_DAYS},
    )


@role_required(Role.THERAPIST, Role.ADMIN)
@require_POST
def revoke_invitation(request: HttpRequest, invitation_id: int) -> HttpResponse:
    services.revoke_invitation(request.user, invitation_id, request)  # type: ignore[arg-type]
    messages.success(request, _("Invitation withdrawn."))
    return redirect("invitations")


@require_http_methods(["GET", "POST"])
def accept_invitation(request: HttpRequest, token: str) -> HttpResponse:
    if request.user.is_authenticated:
        messages.info(request, _("You are already signed in. Sign out to accept an invitation."))
        return redirect("home")
    try:
        invitation = services.find_invitation(token)
    except services.InvitationError as exc:
        return render(
            request, "accounts/invitation_invalid.html", {"error": exc.message}, status=410
        )
    form = AcceptInvitationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.accept_invitation(
                token,
                password=form.cleaned_data["password1"],
                time_zone=form.cleaned_data["time_zone"],
                request=request,
            )
        except services.InvitationError as exc:
            return render(
                request, "accounts/invitation_invalid.html", {"error": exc.message}, status=410
            )
        except ValidationError as exc:
            form.add_error("password1", exc)
        else:
            messages.success(request, _("Welcome to Rapport."))
            return redirect("home")
    return render(
        request, "accounts/accept_invitation.html", {"form": form, "invitation": invitation}
    )


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def failed_emails(request: HttpRequest) -> HttpResponse:
    """Emails the worker gave up on (``rapport.core.outbox``): kind, recipient, tries and the
    mail server's last answer; "Try again" sends one once more."""
    admin: User = request.user  # type: ignore[assignment]
    if request.method == "POST":
        delivery_id = request.POST.get("delivery", "")
        if not delivery_id.isdigit():
            return HttpResponse(status=400)
        with transaction.atomic():
            if outbox.retry(int(delivery_id)):
                record(Action.EMAIL_RETRIED, actor=admin, request=request, email=delivery_id)
                messages.success(request, _("The email will be sent again within a minute."))
        return redirect("failed_emails")
    return render(
        request, "accounts/failed_emails.html", {"failed": outbox.failed_deliveries()[:200]}
    )
