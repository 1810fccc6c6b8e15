"""The crisis resources Rapport ships: each country's emergency number and national crisis lines.

Written on 2026-12-04 from the services' and governments' own pages as known on that date,
without a connection to open them: ``verified_on`` is that date, and a practice checks each
against its ``source_url`` before relying on it (docs/architecture.md, "Crisis help"). Hours
are left blank where they were not certain. The practice admin edits or removes them like any
other resource; this migration adds them once, to a practice that has none yet.
"""

from datetime import date

from django.db import migrations

WRITTEN = date(2026, 12, 4)
DAY_AND_NIGHT = "24 hours, every day"

# country, region, kind, name, phone, text number, chat address, hours, note, order, source
SHIPPED = [
    ("US", "", "emergency", "Emergency services", "911", "", "", "", "", 0,
     "https://www.911.gov/"),
    ("US", "", "crisis_line", "988 Suicide & Crisis Lifeline", "988", "988",
     "https://988lifeline.org/chat/", DAY_AND_NIGHT, "", 10, "https://988lifeline.org/"),
    ("GB", "", "emergency", "Emergency services", "999", "", "", "", "", 0,
     "https://www.nhs.uk/nhs-services/urgent-and-emergency-care-services/when-to-call-999/"),
    ("GB", "", "emergency", "Emergency services (also works from mobiles across Europe)", "112",
     "", "", "", "", 1,
     "https://www.nhs.uk/nhs-services/urgent-and-emergency-care-services/when-to-call-999/"),
    ("GB", "England", "crisis_line", "NHS 111", "111", "", "", DAY_AND_NIGHT,
     "Choose the mental health option (option 2).", 10,
     "https://www.nhs.uk/nhs-services/mental-health-services/where-to-get-urgent-help-for-mental-health/"),
    ("GB", "", "crisis_line", "Samaritans", "116 123", "", "", DAY_AND_NIGHT, "", 20,
     "https://www.samaritans.org/"),
    ("CA", "", "emergency", "Emergency services", "911", "", "", "", "", 0,
     "https://www.canada.ca/en/public-health/services/mental-health-services/mental-health-get-help.html"),
    ("CA", "", "crisis_line", "9-8-8: Suicide Crisis Helpline", "9-8-8", "988", "",
     DAY_AND_NIGHT, "", 10, "https://988.ca/"),
    ("AU", "", "emergency", "Triple Zero (emergency services)", "000", "", "", "", "", 0,
     "https://www.triplezero.gov.au/"),
    ("AU", "", "crisis_line", "Lifeline", "13 11 14", "0477 13 11 14",
     "https://www.lifeline.org.au/crisis-chat/", DAY_AND_NIGHT, "", 10,
     "https://www.lifeline.org.au/"),
    ("MX", "", "emergency", "Emergencias", "911", "", "", "", "", 0,
     "https://www.gob.mx/sesnsp"),
    ("MX", "", "crisis_line", "Línea de la Vida", "800 911 2000", "", "", DAY_AND_NIGHT, "", 10,
     "https://www.gob.mx/conasama"),
    ("PL", "", "emergency", "Numer alarmowy", "112", "", "", "", "", 0,
     "https://www.gov.pl/web/numer-alarmowy-112"),
    ("PL", "", "crisis_line", "Kryzysowy Telefon Zaufania (adults)", "116 123", "", "", "", "",
     10, "https://116123.pl/"),
    ("PL", "", "crisis_line", "Telefon Zaufania dla Dzieci i Młodzieży (children and young people)",
     "116 111", "", "", DAY_AND_NIGHT, "", 20, "https://116111.pl/"),
    ("IN", "", "emergency", "Emergency Response Support System", "112", "", "", "", "", 0,
     "https://112.gov.in/"),
    ("IN", "", "crisis_line", "Tele-MANAS", "14416", "", "", DAY_AND_NIGHT,
     "Or call 1-800-891-4416.", 10, "https://telemanas.mohfw.gov.in/"),
]  # fmt: skip


def add_shipped(apps, schema_editor):  # type: ignore[no-untyped-def]
    resource = apps.get_model("crisis", "CrisisResource")
    if resource.objects.exists():
        return
    resource.objects.bulk_create(
        resource(
            country=country,
            region=region,
            kind=kind,
            name=name,
            phone=phone,
            text_number=text_number,
            chat_url=chat_url,
            hours=hours,
            note=note,
            order=order,
            verified_on=WRITTEN,
            source_url=source,
        )
        for (
            country,
            region,
            kind,
            name,
            phone,
            text_number,
            chat_url,
            hours,
            note,
            order,
            source,
        ) in SHIPPED  # fmt: skip
    )


class Migration(migrations.Migration):
    dependencies = [("crisis", "0001_initial")]

    operations = [migrations.RunPython(add_shipped, migrations.RunPython.noop)]
