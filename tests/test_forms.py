"""Every form is drawn by one field template through Django's form renderer (FORM_RENDERER)."""

from __future__ import annotations

import ast
from pathlib import Path

from django import forms
from django.forms.renderers import get_default_renderer

from rapport.core.forms import FormRenderer

RAPPORT = Path(__file__).resolve().parents[1] / "rapport"
FIELD_TEMPLATE = RAPPORT / "core" / "templates" / "rapport" / "forms" / "field.html"


class Example(forms.Form):
    name = forms.CharField(label="Your name", help_text="As on <b>your</b> card & letters.")
    kind = forms.ChoiceField(
        label="Kind",
        choices=[("a", "First"), ("b", "Second")],
        widget=forms.RadioSelect,
        help_text="Pick one.",
    )
    agree = forms.BooleanField(label="I agree")
    token = forms.CharField(label="Token", widget=forms.HiddenInput)

    def clean(self) -> dict[str, object]:
        raise forms.ValidationError("Something about the whole form.")


def test_the_project_renderer_draws_forms_and_fields() -> None:
    assert isinstance(get_default_renderer(), FormRenderer)
    assert Example().renderer.field_template_name == "rapport/forms/field.html"


def test_a_field_has_its_label_and_points_at_its_help_and_errors() -> None:
    html = str(Example(data={})["name"].as_field_group())
    assert '<label for="id_name">Your name:</label>' in html
    assert 'aria-describedby="id_name_helptext id_name_error"' in html
    assert 'aria-invalid="true"' in html
    assert '<div class="helptext" id="id_name_helptext">' in html
    # Errors are a div with role alert (a list may not take that role), one paragraph each.
    error = '<div class="errorlist" id="id_name_error" role="alert"><p>This field is required.'
    assert error + "</p></div>" in html


def test_help_text_is_escaped_never_marked_safe() -> None:
    html = str(Example()["name"].as_field_group())
    assert "As on &lt;b&gt;your&lt;/b&gt; card &amp; letters." in html
    assert "<b>" not in html


def test_a_group_of_choices_is_a_fieldset_that_points_at_its_help_and_errors() -> None:
    html = str(Example(data={})["kind"].as_field_group())
    assert html.startswith(
        '<fieldset class="field" aria-describedby="id_kind_helptext id_kind_error">'
        "<legend>Kind</legend>"
    )
    assert 'id="id_kind_error" role="alert"' in html


def test_a_checkbox_comes_before_its_label() -> None:
    html = str(Example()["agree"].as_field_group())
    label = '<label for="id_agree">I agree</label>'
    assert html.index('<input type="checkbox"') < html.index(label)


def test_a_whole_form_shows_its_own_errors_hidden_fields_and_each_field() -> None:
    form = Example(data={"name": "Sam"})
    html = str(form)
    own_error = "<p>Something about the whole form.</p>"
    assert f'<div class="errorlist" role="alert">{own_error}</div>' in html
    assert '<input type="hidden" name="token"' in html
    assert "<p>Token: This field is required.</p>" in html
    for field in ["name", "kind", "agree"]:
        assert str(form[field].as_field_group()) in html


def test_no_template_but_the_field_template_shows_help_text() -> None:
    """Help text has one way onto a page, escaped; a link it needs is written in the page."""
    showing_help = [
        str(path.relative_to(RAPPORT))
        for path in RAPPORT.rglob("templates/**/*.html")
        if "help_text" in path.read_text() and path != FIELD_TEMPLATE
    ]
    assert not showing_help, f"templates drawing help text themselves: {showing_help}"
    assert "|safe" not in FIELD_TEMPLATE.read_text()


def test_no_help_text_is_marked_safe_in_python() -> None:
    """``help_text=mark_safe(...)`` (or format_html, SafeString) would bypass the escaping."""
    marking = {"mark_safe", "format_html", "SafeString"}
    found = []
    for path in RAPPORT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call):
                continue
            for keyword in node.keywords:
                value = keyword.value
                if keyword.arg == "help_text" and isinstance(value, ast.Call):
                    name = getattr(value.func, "id", getattr(value.func, "attr", ""))
                    if name in marking:
                        found.append(f"{path.relative_to(RAPPORT)}:{node.lineno}")
    assert not found, f"help text marked safe: {found}"
