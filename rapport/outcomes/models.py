"""Per-episode outcome facts, precomputed so the outcomes pages only count rows.

Rebuilt for one client whenever a score, a session or their care changes
(``rapport.outcomes.episodes.refresh_client``), and for everyone by ``rebuild_outcomes``. They
hold identifiers, dates, counts and scores only: no free text.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from rapport.care.models import CareRelationship
from rapport.visits.models import Visit


class ModalityMix(models.TextChoices):
    """How an episode's session minutes were spent (``episodes.MOSTLY`` of them, or mixed)."""

    VIDEO = "video", _("Mostly video")
    AUDIO = "audio", _("Mostly audio")
    TEXT = "text", _("Mostly text")
    MIXED = "mixed", _("Mixed")


class EpisodeOutcome(models.Model):
    """One episode of care: a run of a care relationship's sessions with no gap longer than the
    practice's episode gap. It has ended when the care ended or that gap has passed since its
    last session (decided when read, as time alone ends an episode)."""

    relationship = models.ForeignKey(CareRelationship, on_delete=models.CASCADE, related_name="+")
    client = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    therapist = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    first_session_at = models.DateTimeField()
    last_session_at = models.DateTimeField(db_index=True)
    care_ended = models.BooleanField(default=False)  # the relationship ended after this episode
    gap_days = models.PositiveSmallIntegerField()  # the practice's episode gap when built
    quarter = models.CharField(max_length=7)  # of the last session (UTC): "2026-Q3"
    sessions = models.PositiveSmallIntegerField()
    video_minutes = models.PositiveIntegerField(default=0)
    audio_minutes = models.PositiveIntegerField(default=0)
    text_minutes = models.PositiveIntegerField(default=0)
    modality_mix = models.CharField(max_length=5, choices=ModalityMix.choices)
    diagnosis_code = models.CharField(max_length=10, blank=True)  # the primary, when recorded
    diagnosis_description = models.CharField(max_length=300, blank=True)

    # PHQ-9 and GAD-7 together (NHS Talking Therapies); null when the episode has no pair of
    # first and last scores on both, or (recovery) did not start at caseness.
    phq9_first = models.PositiveSmallIntegerField(null=True)
    phq9_last = models.PositiveSmallIntegerField(null=True)
    gad7_first = models.PositiveSmallIntegerField(null=True)
    gad7_last = models.PositiveSmallIntegerField(null=True)
    caseness_at_start = models.BooleanField(null=True)
    reliable_improvement = models.BooleanField(null=True)
    reliable_deterioration = models.BooleanField(null=True)
    recovery = models.BooleanField(null=True)
    reliable_recovery = models.BooleanField(null=True)

    # The client's after-session feedback on the episode's sessions (each on 0 to 100, higher
    # better: ``service_quality.normalised_feedback``): its mean, and how many answers.
    feedback_mean = models.FloatField(null=True)
    feedback_count = models.PositiveSmallIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["relationship", "first_session_at"], name="one_episode_per_start"
            ),
        ]
        indexes = [models.Index(fields=["therapist", "last_session_at"])]

    def __str__(self) -> str:
        return f"episode {self.pk} ({self.quarter})"


class MeasureOutcome(models.Model):
    """One instrument with a caseness cut-off in one episode: its first and last score and the
    single-measure outcome, with the thresholds applied (they can differ between versions)."""

    episode = models.ForeignKey(EpisodeOutcome, on_delete=models.CASCADE, related_name="measures")
    instrument_key = models.SlugField(max_length=40)
    first_score = models.PositiveSmallIntegerField()
    last_score = models.PositiveSmallIntegerField()
    scores = models.PositiveSmallIntegerField()
    caseness_at_or_above = models.PositiveSmallIntegerField()
    reliable_change_points = models.PositiveSmallIntegerField()
    caseness_at_start = models.BooleanField()
    reliable_improvement = models.BooleanField()
    reliable_deterioration = models.BooleanField()
    recovery = models.BooleanField(null=True)  # null: did not start at caseness
    reliable_recovery = models.BooleanField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["episode", "instrument_key"], name="one_outcome_per_instrument"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.instrument_key} in episode {self.episode_id}"


class SessionOutcome(models.Model):
    """One held session's facts for the service page: the modality it was booked as, how the
    call went (``service_quality.session_technical``) and the client's feedback after it.

    Built with the client's episodes (``episodes.refresh_client``), so the page counts rows
    instead of reading every session's timeline and every feedback answer."""

    visit = models.OneToOneField(Visit, on_delete=models.CASCADE, related_name="+")
    client = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    therapist = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    modality = models.CharField(max_length=8)  # as booked (the visit's planned modality)
    step_down = models.BooleanField()  # switched down because of the connection
    reconnects = models.PositiveSmallIntegerField()
    minutes_lost = models.FloatField()  # without sound or picture
    client_poor = models.BooleanField()  # the client's own page reported a poor connection
    feedback = models.FloatField(null=True)  # 0 to 100, higher better; null: not answered

    class Meta:
        indexes = [models.Index(fields=["therapist"])]

    def __str__(self) -> str:
        return f"session {self.visit_id} ({self.modality})"
