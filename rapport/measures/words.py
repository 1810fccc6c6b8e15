"""The built-in instruments' own labels that are Rapport's words rather than a validated
instrument's wording: severity bands, what each instrument measures, subscale names. They are
marked here so the catalogs hold them; pages translate them as they show them (``{% translate
band %}``), and an imported instrument's words, not in any catalog, pass through unchanged.
``tests/test_measures_spanish.py`` checks that every built-in label is listed.
"""

from __future__ import annotations

from django.utils.translation import gettext_noop

BUILTIN_WORDS = (
    # Bands
    gettext_noop("Minimal"),
    gettext_noop("Mild"),
    gettext_noop("Moderate"),
    gettext_noop("Moderately severe"),
    gettext_noop("Severe"),
    gettext_noop("Normal"),
    gettext_noop("Low"),
    gettext_noop("High"),
    gettext_noop("Very high"),
    gettext_noop("Below cut-off"),
    gettext_noop("Positive screen"),
    gettext_noop("Below the probable-PTSD cut-off"),
    gettext_noop("Probable PTSD"),
    # Bands as clients read them
    gettext_noop("Lower range"),
    gettext_noop("Worth talking through with your therapist"),
    # What each instrument measures
    gettext_noop("depression"),
    gettext_noop("depression (screen)"),
    gettext_noop("anxiety"),
    gettext_noop("anxiety (screen)"),
    gettext_noop("anxiety and depression (screen)"),
    gettext_noop("psychological distress"),
    gettext_noop("post-traumatic stress"),
    gettext_noop("the client's view of a session"),
    # Subscales
    gettext_noop("Anxiety (GAD-2)"),
    gettext_noop("Depression (PHQ-2)"),
    gettext_noop("Intrusions (cluster B)"),
    gettext_noop("Avoidance (cluster C)"),
    gettext_noop("Negative alterations in cognition and mood (cluster D)"),
    gettext_noop("Alterations in arousal and reactivity (cluster E)"),
)
