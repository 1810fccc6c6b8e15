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
    assert html.index("data-error-summary") < html.index('<input type="hidden" name="token"')
    summary = html[: html.index("</div>")]
    assert "<li>Something about the whole form.</li>" in summary
    assert "<li>Token: This field is required.</li>" in summary
    for field in ["name", "kind", "agree"]:
        assert str(form[field].as_field_group()) in html


def test_the_summary_links_to_each_field_with_an_error() -> None:
    html = str(Example(data={}))
    assert '<div class="error-summary" id="error-summary" data-error-summary role="alert"' in html
    assert 'tabindex="-1" aria-labelledby="form-error-summary-title">' in html
    assert '<h2 id="form-error-summary-title">Please check what you entered</h2>' in html
    assert '<a href="#id_name">Your name: This field is required.</a>' in html
    # A group of choices has no label of its own: the link goes to its first choice.
    assert '<a href="#id_kind_0">Kind: This field is required.</a>' in html
    assert '<a href="#id_agree">I agree: This field is required.</a>' in html
    assert 'id="id_kind_0"' in html
    prefixed = str(Example(data={}, prefix="new"))
    assert 'id="new-error-summary"' in prefixed and 'href="#id_new-name"' in prefixed


def test_a_form_without_errors_has_no_summary() -> None:
    assert "data-error-summary" not in str(Example())


def test_every_template_that_draws_fields_itself_includes_the_summary() -> None:
    """``{{ form }}`` brings the summary; a template that draws fields or errors one by one
    includes it. The questionnaire shows one question at a time and leads to its own errors."""
    drawing_fields = ("as_field_group", ".errors", "non_field_errors")
    missing = [
        str(path.relative_to(RAPPORT))
        for path in RAPPORT.rglob("templates/**/*.html")
        if any(mark in path.read_text() for mark in drawing_fields)
        and "rapport/forms/error_summary.html" not in path.read_text()
        and path.name not in {"error_summary.html", "field.html", "availability.html"}
        and path.relative_to(RAPPORT).as_posix() not in SUMMARY_ELSEWHERE
    ]
    assert not missing, f"templates drawing fields without the error summary: {missing}"


# Templates that draw fields but whose errors are summarised by another: the availability page's
# forms draw their fields through included templates; the questionnaire pages one question at a
# time (measures/static/measures/task.js leads to the first unanswered one); the passkey form
# has no field a person types into.
SUMMARY_ELSEWHERE = {
    "measures/templates/measures/task.html",
    "core/templates/mfa/authenticate.html",
}


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
