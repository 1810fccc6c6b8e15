"""Records routes (mounted at the site root). Each needs a rule in the access matrix."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
