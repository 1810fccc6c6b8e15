"""Every route of Rapport. Each one needs an entry in tests/test_access_matrix.py."""

from django.urls import include, path
from django.views.i18n import JavaScriptCatalog

from rapport.accounts import views as accounts
from rapport.audit import views as audit
from rapport.care import views as care
from rapport.core import shell
from rapport.core import views as core
from rapport.home import views as home

urlpatterns = [
    path("", home.home, name="home"),
    path("healthz", core.healthz, name="healthz"),
    path("readyz", core.readyz, name="readyz"),
    path("metrics", core.metrics, name="metrics"),
    path("manifest.webmanifest", shell.web_manifest, name="web_manifest"),
    path("sw.js", shell.service_worker, name="service_worker"),
    path("offline/", shell.offline, name="offline"),
    # gettext() and interpolate() for the browser code, in the page's language (its djangojs
    # catalog is rapport/core/locale/<language>/LC_MESSAGES/djangojs.po).
    path(
        "jsi18n/",
        JavaScriptCatalog.as_view(packages=["rapport.core"]),
        name="javascript_catalog",
    ),
    path("accounts/session/", accounts.session_status, name="session_status"),
    path("accounts/", include("allauth.urls")),
    path("invite/<str:token>/", accounts.accept_invitation, name="accept_invitation"),
    path("settings/", accounts.account_settings, name="account_settings"),
    path("settings/sign-out-everywhere/", accounts.sign_out_everywhere, name="sign_out_everywhere"),
    path("invitations/", accounts.invitations, name="invitations"),
    path(
        "invitations/<int:invitation_id>/revoke/",
        accounts.revoke_invitation,
        name="revoke_invitation",
    ),
    path("clients/", home.caseload, name="caseload"),
    path("clients/<int:client_id>/", home.client_record, name="client_record"),
    path("clients/<int:client_id>/edit/", care.edit_client_record, name="edit_client_record"),
    path(
        "clients/<int:client_id>/emergency-access/", care.emergency_access, name="emergency_access"
    ),
    path("my-record/access/", audit.my_record_access, name="my_record_access"),
    path("practice/people/", care.admin_users, name="admin_users"),
    path("practice/people/<int:user_id>/active/", care.admin_set_active, name="admin_set_active"),
    path("practice/relationships/", care.admin_relationships, name="admin_relationships"),
    path(
        "practice/relationships/<int:relationship_id>/end/",
        care.end_relationship,
        name="end_relationship",
    ),
    path("practice/audit/", audit.audit_trail, name="audit_trail"),
    path("practice/emails/failed/", accounts.failed_emails, name="failed_emails"),
    path("practice/audit/export.csv", audit.audit_export, name="audit_export"),
    path("practice/settings/", home.practice_settings, name="practice_settings"),
    path("", include("rapport.scheduling.urls")),
    path("", include("rapport.visits.urls")),
    path("", include("rapport.measures.urls")),
    path("", include("rapport.messaging.urls")),
    path("", include("rapport.diagnoses.urls")),
    path("", include("rapport.crisis.urls")),
    path("", include("rapport.intake.urls")),
    path("", include("rapport.plans.urls")),
    path("", include("rapport.homework.urls")),
    path("", include("rapport.journal.urls")),
    path("", include("rapport.safety.urls")),
    path("", include("rapport.notes.urls")),
    path("", include("rapport.billing.urls")),
    path("", include("rapport.records.urls")),
    path("", include("rapport.push.urls")),
    path("", include("rapport.matching.urls")),
    path("", include("rapport.signup.urls")),
    path("outcomes/", include("rapport.outcomes.urls")),
]

handler400 = "rapport.core.views.bad_request"
handler403 = "rapport.core.views.forbidden"
handler404 = "rapport.core.views.not_found"
handler500 = "rapport.core.views.server_error"
