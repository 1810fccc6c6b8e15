"""Push notice routes (mounted at the site root). Each needs a rule in the access matrix."""

from django.urls import path

from rapport.push import views

urlpatterns = [
    path("settings/push/subscribe/", views.push_subscribe, name="push_subscribe"),
    path("settings/push/unsubscribe/", views.push_unsubscribe, name="push_unsubscribe"),
]
