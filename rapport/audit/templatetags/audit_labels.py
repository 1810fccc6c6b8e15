"""The audit trail's codes in people's words on pages (``rapport.audit.labels``)."""

from __future__ import annotations

from django import template

from rapport.audit import labels

register = template.Library()


@register.filter
def action_label(code: str) -> str:
    return labels.action_label(code)


@register.filter
def object_label(object_type: str) -> str:
    return labels.object_label(object_type)
