"""What a client reads about their scores, on the real rendered pages: crisis help before anything
else after a risk answer, no band label ("Minimal") beside a risk answer, and no clinician's
label ("Probable PTSD") anywhere they look; the clinician's pages keep the labels."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from rapport.accounts.models import User
from rapport.care.models import ClientProfile
from rapport.core import realtime
from rapport.crisis.models import CrisisResource
from rapport.measures.models import Instrument, Response
from tests.conftest import signed_in
from tests.measures_data import response

CLINICIAN_WORDS = ["Probable PTSD", "probable-PTSD", "Positive screen"]


@pytest.fixture(autouse=True)
def _no_live_events(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(realtime, "deliver", lambda events: None)


def instrument(key: str) -> Instrument:
    return Instrument.objects.get(key=key, builtin=True)


def phq9_with_risk(client: User) -> Response:
    """Total 1 ("Minimal") with item 9 answered "Several days"."""
    answers: dict[str, int | None] = {str(n): 0 for n in range(1, 9)}
    answers["9"] = 1
    return response(client, instrument("phq9"), answers, at=timezone.now())


def pcl5_probable(client: User) -> Response:
    """Total 40: at or above the probable-PTSD cut-off (33)."""
    return response(
        client, instrument("pcl5"), {str(n): 2 for n in range(1, 21)}, at=timezone.now()
    )


def page(user: User, name: str, *args: Any) -> str:
    got = signed_in(user).get(reverse(name, args=args))
    assert got.status_code == 200, name
    return got.content.decode()


def main(html: str) -> str:
    """The page's own content, without the layout around it."""
    return html.split("<main", 1)[1].split("</main>", 1)[0]


def test_a_risk_answer_puts_crisis_help_first_and_no_band_beside_it(
    client_a: User, therapist_x: User
) -> None:
    CrisisResource.objects.filter(country="US").delete()
    CrisisResource.objects.create(
        country="US",
        name="988 Lifeline",
        phone="988",
        text_number="988",
        verified_on=timezone.localdate(),
        source_url="https://988lifeline.org/",
    )
    ClientProfile.objects.update_or_create(client=client_a, defaults={"country": "US"})
    sent = phq9_with_risk(client_a)
    assert sent.result_data()["band"] == "Minimal" and sent.risk_positive

    result = main(page(client_a, "measure_result", sent.pk))
    # Crisis help is the first thing on the page, with numbers to tap.
    first = re.search(r"<(h1|h2|section)[^>]*>", result)
    assert first is not None and 'id="safety"' in first.group(0)
    assert result.index('id="safety"') < result.index("<h1")
    assert 'href="tel:988"' in result and 'href="sms:988"' in result
    # The score is there, without the band that would read as "all is well".
    assert "Your score: 1 out of 27" in result
    assert "Minimal" not in result

    progress = main(page(client_a, "my_progress"))
    assert "Latest: 1 out of 27" in progress
    assert "(Minimal)" not in progress  # beside the latest score, or the chart's point
    assert "<td>Minimal</td>" not in progress  # the table of scores
    record = main(page(client_a, "my_record"))
    assert "Total 1" in record and "Minimal" not in record

    # The clinician's result page keeps the band.
    assert "Minimal" in main(page(therapist_x, "measure_result", sent.pk))


def test_a_score_without_a_risk_answer_keeps_its_band(client_a: User) -> None:
    answers: dict[str, int | None] = {str(n): 1 for n in range(1, 9)}
    answers["9"] = 0
    sent = response(client_a, instrument("phq9"), answers, at=timezone.now())
    assert "Your score: 8 out of 27 — Mild" in main(page(client_a, "measure_result", sent.pk))
    assert "(Mild)" in main(page(client_a, "my_progress"))


def test_clients_never_read_a_clinicians_label(client_a: User, therapist_x: User) -> None:
    sent = pcl5_probable(client_a)
    screen = response(client_a, instrument("phq2"), {"1": 3, "2": 3}, at=timezone.now())
    assert sent.result_data()["band"] == "Probable PTSD"
    assert screen.result_data()["band"] == "Positive screen"
    for html in [
        page(client_a, "measure_result", sent.pk),
        page(client_a, "measure_result", screen.pk),
        page(client_a, "my_progress"),
        page(client_a, "my_record"),
        page(client_a, "my_measures"),
    ]:
        for words in CLINICIAN_WORDS:
            assert words not in html
    result = main(page(client_a, "measure_result", sent.pk))
    assert "Your score: 40 out of 80 — Worth talking through with your therapist" in result
    # The clinician keeps the label, on the result and on the progress page.
    assert "Probable PTSD" in page(therapist_x, "measure_result", sent.pk)
    assert "Probable PTSD" in page(therapist_x, "client_progress", client_a.pk)
