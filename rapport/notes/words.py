"""The words of the shipped note templates (names, descriptions, section labels and help),
marked so the catalogs hold them. Pages translate a template's words as they show them; a
practice's own template words, in no catalog, pass through unchanged. A note keeps the English
words it was written with, so its record and exports never change with the reader's language.
``tests/test_notes_spanish.py`` checks every shipped word is listed.
"""

from __future__ import annotations

from django.utils.translation import gettext_noop

SHIPPED_WORDS = (
    # birp
    gettext_noop("Behaviour, intervention, response, plan."),
    gettext_noop("Behaviour"),
    gettext_noop("How the client presented and what they reported."),
    gettext_noop("Intervention"),
    gettext_noop("What you did in the session and why."),
    gettext_noop("Response"),
    gettext_noop("How the client responded to the intervention."),
    gettext_noop("Plan"),
    gettext_noop("Next steps and the next session."),
    # dap
    gettext_noop("Data, assessment, plan."),
    gettext_noop("Data"),
    gettext_noop("What was said and observed in the session, including measure scores."),
    gettext_noop("Assessment"),
    gettext_noop("What the data means clinically: progress, risk, response to treatment."),
    gettext_noop("What happens next, by whom and when."),
    # free
    gettext_noop("Free format"),
    gettext_noop("One section in your own words."),
    gettext_noop("Note"),
    gettext_noop("The session in your own words."),
    # soap
    gettext_noop("Subjective, objective, assessment, plan."),
    gettext_noop("Subjective"),
    gettext_noop(
        "What the client reported: concerns, mood and events since the last session, in brief."
    ),
    gettext_noop("Objective"),
    gettext_noop("What you observed: presentation, affect, engagement, measure scores."),
    gettext_noop("Your clinical reading of today: progress, risk, what changed."),
    gettext_noop("Next steps: homework, next session, referrals, changes to the plan."),
)
