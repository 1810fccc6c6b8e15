"""Crisis resources routes (mounted at the site root). Each needs a rule in the access matrix."""

from django.urls import path

from rapport.crisis import views

urlpatterns = [
    path("practice/crisis-resources/", views.resource_list, name="crisis_resources"),
    path("practice/crisis-resources/add/", views.resource_add, name="crisis_resource_add"),
    path(
        "practice/crisis-resources/<int:resource_id>/",
        views.resource_change,
        name="crisis_resource_change",
    ),
    path(
        "practice/crisis-resources/<int:resource_id>/remove/",
        views.resource_remove,
        name="crisis_resource_remove",
    ),
]
