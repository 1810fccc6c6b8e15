"""Scheduling routes (mounted at the site root). Each needs a rule in the access matrix."""


urlpatterns: list = []  # type: ignore[type-arg]
