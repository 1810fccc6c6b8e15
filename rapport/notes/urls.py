"""Notes routes (mounted at the site root). Each needs a rule in the access matrix."""

from django.urls import URLPattern, path

from rapport.notes import practice_views, views

urlpatterns: list[URLPattern] = [
    path("visits/<uuid:visit_id>/note/", views.visit_note, name="visit_note"),
    path("clients/<int:client_id>/notes/new/", views.contact_note, name="contact_note"),
    path("notes/<int:note_id>/", views.note, name="note"),
    path("notes/<int:note_id>/addendum/", views.note_addendum, name="note_addendum"),
    path("notes/<int:note_id>/release/", views.note_release, name="note_release"),
    path("notes/<int:note_id>/cosign/", views.note_cosign, name="note_cosign"),
    path("practice/supervision/", practice_views.supervision, name="supervision"),
    path(
        "practice/supervision/<int:supervision_id>/end/",
        practice_views.end_supervision,
        name="end_supervision",
    ),
    path("practice/note-templates/", practice_views.note_templates, name="note_templates"),
]
