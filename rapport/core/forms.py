"""How forms are drawn on every page: one template for a form, one for each of its fields."""

from __future__ import annotations

from django.forms.renderers import DjangoTemplates


class FormRenderer(DjangoTemplates):
    """Django's renderer with Rapport's templates; ``{{ form }}`` and ``field.as_field_group`` use
    them. A field's help text is escaped like any text: a link it needs belongs in the page."""

    form_template_name = "rapport/forms/form.html"
    field_template_name = "rapport/forms/field.html"
