"""The words matching is made of: concerns, approaches, populations and regions.

Clients tick concerns at sign-up; therapists tick specialties from the same list, so a concern and
a specialty match by key. Regions are ISO 3166-2 codes ("US-CA") where a licence is granted by a
state or province, and the country code alone ("GB") where it is national.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from rapport.core.countries import country_choices, country_name

CONCERNS = [
    ("anxiety", _("Anxiety or worry")),
    ("depression", _("Low mood or depression")),
    ("stress", _("Stress or burnout")),
    ("trauma", _("Trauma or a frightening experience")),
    ("relationships", _("Relationships or family")),
    ("grief", _("Grief or loss")),
    ("sleep", _("Sleep")),
    ("substance_use", _("Alcohol or drug use")),
    ("eating", _("Eating or body image")),
    ("identity", _("Identity, gender or sexuality")),
    ("ocd", _("Obsessions or compulsions")),
    ("anger", _("Anger")),
]

APPROACHES = [
    ("cbt", _("Cognitive behavioural therapy (CBT)")),
    ("dbt", _("Dialectical behaviour therapy (DBT)")),
    ("act", _("Acceptance and commitment therapy (ACT)")),
    ("emdr", _("EMDR")),
    ("psychodynamic", _("Psychodynamic therapy")),
    ("person_centred", _("Person-centred therapy")),
    ("family_systems", _("Family and systemic therapy")),
    ("mindfulness", _("Mindfulness-based therapy")),
    ("solution_focused", _("Solution-focused therapy")),
]

POPULATIONS = [
    ("adults", _("Adults")),
    ("adolescents", _("Adolescents (13 to 17)")),
    ("children", _("Children (under 13)")),
    ("couples", _("Couples")),
    ("older_adults", _("Older adults")),
    ("lgbtq", _("LGBTQ+ people")),
    ("veterans", _("Veterans")),
    ("students", _("Students")),
]

# Subdivisions that license therapists themselves (proper names: not translated).
# fmt: off
SUBDIVISIONS: dict[str, list[tuple[str, str]]] = {
    "US": [
        ("AL", "Alabama"), ("AK", "Alaska"), ("AZ", "Arizona"), ("AR", "Arkansas"),
        ("CA", "California"), ("CO", "Colorado"), ("CT", "Connecticut"), ("DE", "Delaware"),
        ("DC", "District of Columbia"), ("FL", "Florida"), ("GA", "Georgia"), ("HI", "Hawaii"),
        ("ID", "Idaho"), ("IL", "Illinois"), ("IN", "Indiana"), ("IA", "Iowa"),
        ("KS", "Kansas"), ("KY", "Kentucky"), ("LA", "Louisiana"), ("ME", "Maine"),
        ("MD", "Maryland"), ("MA", "Massachusetts"), ("MI", "Michigan"), ("MN", "Minnesota"),
        ("MS", "Mississippi"), ("MO", "Missouri"), ("MT", "Montana"), ("NE", "Nebraska"),
        ("NV", "Nevada"), ("NH", "New Hampshire"), ("NJ", "New Jersey"), ("NM", "New Mexico"),
        ("NY", "New York"), ("NC", "North Carolina"), ("ND", "North Dakota"), ("OH", "Ohio"),
        ("OK", "Oklahoma"), ("OR", "Oregon"), ("PA", "Pennsylvania"), ("RI", "Rhode Island"),
        ("SC", "South Carolina"), ("SD", "South Dakota"), ("TN", "Tennessee"), ("TX", "Texas"),
        ("UT", "Utah"), ("VT", "Vermont"), ("VA", "Virginia"), ("WA", "Washington"),
        ("WV", "West Virginia"), ("WI", "Wisconsin"), ("WY", "Wyoming"), ("PR", "Puerto Rico"),
    ],
    "CA": [
        ("AB", "Alberta"), ("BC", "British Columbia"), ("MB", "Manitoba"),
        ("NB", "New Brunswick"), ("NL", "Newfoundland and Labrador"), ("NS", "Nova Scotia"),
        ("NT", "Northwest Territories"), ("NU", "Nunavut"), ("ON", "Ontario"),
        ("PE", "Prince Edward Island"), ("QC", "Quebec"), ("SK", "Saskatchewan"),
        ("YT", "Yukon"),
    ],
    "AU": [
        ("ACT", "Australian Capital Territory"), ("NSW", "New South Wales"),
        ("NT", "Northern Territory"), ("QLD", "Queensland"), ("SA", "South Australia"),
        ("TAS", "Tasmania"), ("VIC", "Victoria"), ("WA", "Western Australia"),
    ],
}
# fmt: on


def region_code(country: str, subdivision: str = "") -> str:
    """ "US" + "CA" → "US-CA"; a country without licensing subdivisions is its own region."""
    if country in SUBDIVISIONS:
        return f"{country}-{subdivision}" if subdivision else ""
    return country


def region_name(code: str) -> str:
    """ "US-CA" → "California"; "GB" → the country's name in the reader's language."""
    country, _dash, subdivision = code.partition("-")
    for key, name in SUBDIVISIONS.get(country, []):
        if key == subdivision:
            return name
    return country_name(country)


def region_choices() -> list[tuple[str, str]]:
    """Every licensable region: the subdivisions of the countries above, then other countries."""
    choices = [
        (f"{country}-{key}", f"{name} ({country})")
        for country, subdivisions in SUBDIVISIONS.items()
        for key, name in subdivisions
    ]
    choices += [(code, name) for code, name in country_choices() if code not in SUBDIVISIONS]
    return choices


def label(vocabulary: list[tuple[str, str]], key: str) -> str:
    return str(dict(vocabulary).get(key, key))
