"""Journal routes (mounted at the site root). Each needs a rule in the access matrix."""

from django.urls import path

from rapport.journal import views

urlpatterns = [
    path("journal/", views.my_journal, name="my_journal"),
    path("journal/reminder/", views.journal_reminder, name="journal_reminder"),
    path("journal/<int:entry_id>/", views.journal_entry, name="journal_entry"),
    path("clients/<int:client_id>/journal/", views.client_journal, name="client_journal"),
]
