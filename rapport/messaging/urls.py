"""Messaging routes (mounted at the site root). Each needs a rule in the access matrix."""

from django.urls import path

from rapport.messaging import attachment_views, settings_views, views

urlpatterns = [
    path("messages/", views.inbox, name="inbox"),
    path("messages/<uuid:conversation_id>/", views.conversation, name="conversation"),
    path(
        "messages/<uuid:conversation_id>/attachments/",
        attachment_views.upload,
        name="attachment_upload",
    ),
    path("messages/files/<uuid:attachment_id>/", attachment_views.download, name="attachment"),
    path("settings/messages/", settings_views.messaging_settings, name="messaging_settings"),
]
