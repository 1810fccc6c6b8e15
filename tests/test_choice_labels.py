"""The ``label`` template filter says exactly what Django's ``get_FOO_display()`` says, for
every choice of every choice field of every Rapport model, in English and in another language,
and for a value that is not one of the choices."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.db.models import Field, Model
from django.template import Context, Template
from django.utils import translation

from rapport.core.templatetags.choices import label

pytestmark = pytest.mark.django_db


def choice_fields() -> list[tuple[type[Model], Field]]:  # type: ignore[type-arg]
    found = []
    for config in apps.get_app_configs():
        if not config.name.startswith("rapport."):
            continue
        for model in config.get_models():
            for field in model._meta.concrete_fields:
                if field.choices:
                    found.append((model, field))
    return found


FIELDS = choice_fields()


def test_there_are_choice_fields_to_compare() -> None:
    assert len(FIELDS) >= 20, [f"{m.__name__}.{f.name}" for m, f in FIELDS]


@pytest.mark.parametrize("language", ["en", "es", "de"])
def test_label_matches_get_display_for_every_choice(language: str) -> None:
    with translation.override(language):
        for model, field in FIELDS:
            values = [stored for stored, _words in field.flatchoices]
            values.append("not-a-choice" if isinstance(values[0], str) else 987654)
            for value in values:
                obj = model(**{field.attname: value})
                expected = getattr(obj, f"get_{field.name}_display")()
                assert str(label(obj, field.name)) == str(expected), (model, field.name, value)


def test_the_filter_is_a_template_builtin() -> None:
    from rapport.accounts.models import User

    person = User(role="therapist")
    rendered = Template('{{ person|label:"role" }}').render(Context({"person": person}))
    assert rendered == str(person.get_role_display())
