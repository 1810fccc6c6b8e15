"""Sign-up routes (mounted at the site root). Each needs a rule in the access matrix."""

from django.urls import path

from rapport.signup import views

urlpatterns = [
    path("welcome/screen/", views.screen, name="signup_screen"),
    path("welcome/guardian/", views.guardian, name="signup_guardian"),
    path("guardian/<str:token>/", views.guardian_consent, name="guardian_consent"),
    path("practice/intake-queue/", views.queue, name="intake_queue"),
    path("practice/intake-queue/alerts/<int:alert_id>/", views.alert, name="intake_alert"),
    path(
        "practice/intake-queue/guardians/<int:consent_id>/send/",
        views.guardian_send,
        name="intake_guardian_send",
    ),
]
