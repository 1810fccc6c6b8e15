"""Every word a person reads, in every language Rapport offers.

``test_every_word_has_a_translation`` extracts what ``make messages`` extracts (Django's own
``makemessages``, on a copy of the package, so the shipped catalogs are not touched) and fails
naming, app by app, each text that has no translation in a shipped language: the templates' and
Python's words in the compiled ``django`` catalogs that the pages use, the browser code's in the
JavaScript catalog. The page tests then check what a Spanish reader gets: ``<html lang="es">``
over Spanish words, Spanish day and month names, and times by their 12/24-hour choice.
"""

from __future__ import annotations

import re
import shutil
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from html.parser import HTMLParser
from importlib import import_module
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.template import Context, Template
from django.urls import reverse
from django.utils import dateformat, timezone, translation
from django.utils.translation.trans_real import DjangoTranslation

import rapport
from rapport.accounts.models import User
from rapport.care.models import CareRelationship
from rapport.core import clock
from rapport.messaging.access import conversation_for
from tests.conftest import signed_in
from tests.scheduling_data import direct_appointment, therapist_with_hours

PACKAGE = Path(rapport.__file__).resolve().parent
SHIPPED = [code for code, _name in settings.LANGUAGES if code != settings.LANGUAGE_CODE]


# --- Extraction ----------------------------------------------------------------------------------


@dataclass
class Entry:
    msgid: str = ""
    plural: str = ""
    context: str = ""
    places: list[str] = field(default_factory=list)
    fuzzy: bool = False


def _unquote(text: str) -> str:
    body = text.strip()[1:-1]
    escapes = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}
    return re.sub(r"\\(.)", lambda m: escapes.get(m.group(1), m.group(1)), body)


def read_po(path: Path) -> list[Entry]:
    """The entries of a ``.po`` file that ``makemessages`` wrote (strings may span lines)."""
    entries: list[Entry] = []
    entry, part = Entry(), ""
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if not line.strip():
            if entry.msgid:
                entries.append(entry)
            entry, part = Entry(), ""
        elif line.startswith("#:"):
            entry.places.extend(line[2:].split())
        elif line.startswith("#,"):
            entry.fuzzy = entry.fuzzy or "fuzzy" in line
        elif line.startswith("#"):
            continue
        elif line.startswith(("msgctxt ", "msgid ", "msgid_plural ")):
            part, _space, quoted = line.partition(" ")
            setattr(entry, _FIELDS[part], _unquote(quoted))
        elif line.startswith('"') and part in _FIELDS:
            setattr(entry, _FIELDS[part], getattr(entry, _FIELDS[part]) + _unquote(line))
        else:
            part = ""  # msgstr lines: empty in a fresh extraction
    return entries


_FIELDS = {"msgctxt": "context", "msgid": "msgid", "msgid_plural": "plural"}


def extract(into: Path, domain: str) -> dict[str, list[Entry]]:
    """Every translatable text of ``domain`` ("django": templates and Python; "djangojs": the
    scripts), by app, from a copy of the package with a locale folder per app and none shipped."""
    copy = into / "rapport"
    if not copy.exists():
        shutil.copytree(
            PACKAGE,
            copy,
            ignore=shutil.ignore_patterns("locale", "__pycache__", "*.mo", "*.po"),
        )
        (copy / "locale").mkdir()
        for folder in copy.iterdir():
            if (folder / "apps.py").exists():
                (folder / "locale").mkdir()
    found: dict[str, list[Entry]] = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(into)
        # Texts outside the apps (settings, lib) go to the copy's own folder, not the real one.
        patch.setattr(settings, "LOCALE_PATHS", [copy / "locale"])
        call_command("makemessages", locale=["es"], domain=domain, verbosity=0, no_obsolete=True)
    for po in sorted(copy.glob(f"**/locale/es/LC_MESSAGES/{domain}.po")):
        app = po.relative_to(copy).parts[0]
        found[app if app != "locale" else "(outside the apps)"] = read_po(po)
    return found


def catalog_of(language: str, domain: str = "django", localedirs: list[str] | None = None) -> Any:
    """The compiled words of ``language`` as Django reads them (every app's and Django's own for
    the pages; the scripts' from the given folders)."""
    return DjangoTranslation(language, domain=domain, localedirs=localedirs)._catalog  # type: ignore[attr-defined]


def translated(catalog: Any, entry: Entry) -> bool:
    key = f"{entry.context}\x04{entry.msgid}" if entry.context else entry.msgid
    if entry.plural:
        return all(catalog.get((key, n)) for n in (0, 1))
    return bool(catalog.get(key)) if hasattr(catalog, "get") else key in catalog


def missing_words(language: str, tmp_path: Path) -> list[str]:
    problems: list[str] = []
    pages = catalog_of(language)
    scripts = catalog_of(language, "djangojs", [str(PACKAGE / "core" / "locale")])
    for domain, catalog, where in [
        ("django", pages, "django.po"),
        ("djangojs", scripts, "core's djangojs.po"),
    ]:
        by_app: dict[str, list[str]] = defaultdict(list)
        for app, entries in extract(tmp_path, domain).items():
            for entry in entries:
                if not translated(catalog, entry):
                    place = entry.places[0] if entry.places else ""
                    context = f" (context {entry.context!r})" if entry.context else ""
                    by_app[app].append(f"    {entry.msgid!r}{context}  [{place}]")
        # A fuzzy entry is a guess nobody checked, whatever msgfmt was told to compile.
        for po in sorted(PACKAGE.glob(f"*/locale/{language}/LC_MESSAGES/{domain}.po")):
            app = po.relative_to(PACKAGE).parts[0]
            for entry in read_po(po):
                if entry.fuzzy:
                    by_app[app].append(f"    {entry.msgid!r}  [fuzzy in {po.relative_to(PACKAGE)}]")
        for app, lines in sorted(by_app.items()):
            problems.append(
                f"rapport/{app}: {len(lines)} text(s) without a {language} translation "
                f"(or only a fuzzy one) in {where}:"
            )
            problems.extend(lines)
    return problems


@pytest.mark.parametrize("language", SHIPPED)
def test_every_word_has_a_translation(language: str, tmp_path: Path) -> None:
    problems = missing_words(language, tmp_path)
    assert not problems, "\n".join(problems)


def test_only_complete_languages_are_offered() -> None:
    assert [code for code, _name in settings.LANGUAGES] == ["en", "es"]
    assert User._meta.get_field("language").choices == settings.LANGUAGES


def test_the_extraction_finds_words_and_sees_a_missing_one(tmp_path: Path) -> None:
    """The completeness test cannot pass by finding nothing: the extraction finds the navigation
    and the scripts' words, and a word with no translation anywhere is reported."""
    pages = extract(tmp_path, "django")
    assert any(e.msgid == "Skip to main content" for e in pages["core"])
    assert any(e.msgid == "%(count)d day" and e.plural for e in pages["messaging"])
    scripts = extract(tmp_path, "djangojs")
    assert any(e.msgid == "Connection lost. Reconnecting…" for e in scripts["messaging"])
    catalog = catalog_of("es")
    assert not translated(catalog, Entry(msgid="A sentence no translator has ever seen."))
    assert translated(catalog, Entry(msgid="Spanish"))  # Django's own words count too
    guessed = tmp_path / "guessed.po"
    guessed.write_text(
        '#, fuzzy\nmsgid ""\nmsgstr ""\n\n#: a.py\n#, fuzzy, python-format\nmsgid "Hello "\n'
        '"%(name)s"\nmsgstr "Hola %(name)s"\n',
        encoding="utf-8",
    )
    assert [(e.msgid, e.fuzzy, e.places) for e in read_po(guessed)] == [
        ("Hello %(name)s", True, ["a.py"])
    ]


def test_the_javascript_catalog_is_shipped_compiled_and_complete() -> None:
    po = PACKAGE / "core" / "locale" / "es" / "LC_MESSAGES" / "djangojs.po"
    mo = po.with_suffix(".mo")
    assert mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime - 1
    entries = read_po(po)
    assert len(entries) >= 40
    catalog = catalog_of("es", "djangojs", [str(po.parents[2])])
    assert [e.msgid for e in entries if not translated(catalog, e)] == []


# --- What a Spanish reader gets ------------------------------------------------------------------

# Words of the navigation and the frame that an English page always has: none may be left on a
# Spanish one.
ENGLISH = [
    "Skip to main content",
    "Home",
    "Schedule",
    "Messages",
    "Clients",
    "Invitations",
    "Account",
    "Sign out",
    "Sessions",
    "Questionnaires",
    "My progress",
    "People",
    "Care relationships",
    "Audit trail",
    "private, measured therapy",
]


class VisibleText(HTMLParser):
    """The text a person reads (not scripts, styles or the hidden templates)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.skipping = 0
        self.lang = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "html":
            self.lang = dict(attrs).get("lang") or ""
        if tag in ("script", "style", "template"):
            self.skipping += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "template") and self.skipping:
            self.skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def read(html: str) -> VisibleText:
    parser = VisibleText()
    parser.feed(html)
    return parser


def in_spanish(user: User, clock_choice: str = "") -> User:
    User.objects.filter(pk=user.pk).update(language="es", clock=clock_choice)
    user.refresh_from_db()
    return user


@pytest.mark.django_db
def test_key_pages_in_spanish_have_no_english_left(
    client_a: User, therapist_x: User, admin: User
) -> None:
    chat = conversation_for(CareRelationship.objects.get(client=client_a, therapist=therapist_x))
    pages = {
        client_a: [
            reverse("home"),
            reverse("my_sessions"),
            reverse("inbox"),
            reverse("conversation", args=[chat.uid]),
            reverse("my_measures"),
            reverse("account_settings"),
        ],
        therapist_x: [
            reverse("home"),
            reverse("schedule"),
            reverse("inbox"),
            reverse("conversation", args=[chat.uid]),
            reverse("client_measures", args=[client_a.pk]),
            reverse("account_settings"),
        ],
        admin: [reverse("home"), reverse("admin_users"), reverse("account_settings")],
    }
    problems = []
    for person, paths in pages.items():
        browser = signed_in(in_spanish(person))
        for path in paths:
            response = browser.get(path)
            assert response.status_code == 200, (person.email, path)
            assert response["Content-Language"] == "es"
            page = read(response.content.decode())
            assert page.lang == "es", path
            text = " ".join(" ".join(page.parts).split())
            left = [word for word in ENGLISH if re.search(rf"\b{re.escape(word)}\b", text)]
            if left:
                problems.append(f"{person.get_role_display()} {path}: {left}")
    assert not problems, "English words on Spanish pages:\n" + "\n".join(problems)


@pytest.mark.django_db
def test_a_retired_language_reads_as_english_and_says_so(client_a: User) -> None:
    """French was offered before: such a person gets English, and the page says "en"."""
    User.objects.filter(pk=client_a.pk).update(language="fr")
    response = signed_in(client_a).get(reverse("home"))
    assert response["Content-Language"] == "en"
    assert read(response.content.decode()).lang == "en"


@pytest.mark.django_db
def test_the_migration_moves_retired_languages_to_english(client_a: User, client_b: User) -> None:
    migration = import_module("rapport.accounts.migrations.0011_retired_languages_read_as_english")
    User.objects.filter(pk=client_a.pk).update(language="de")
    User.objects.filter(pk=client_b.pk).update(language="es")
    migration.to_english(apps, None)
    assert set(User.objects.values_list("email", "language")) >= {
        (client_a.email, "en"),
        (client_b.email, "es"),
    }


# --- Dates and times -----------------------------------------------------------------------------

MOMENT = datetime(2026, 12, 5, 16, 7, tzinfo=UTC)  # a Saturday afternoon


@pytest.mark.parametrize(
    ("language", "choice", "expected"),
    [
        ("en", "", "Sat 5 Dec, 16:07"),
        ("en", "12", "Sat 5 Dec, 4:07 PM"),
        ("en", "24", "Sat 5 Dec, 16:07"),
        ("es", "", "sáb 5 Dic, 16:07"),
        ("es", "12", "sáb 5 Dic, 4:07 p. m."),
        ("es", "24", "sáb 5 Dic, 16:07"),
    ],
)
def test_the_filters_follow_language_and_choice(language: str, choice: str, expected: str) -> None:
    template = Template('{{ t|day_and_time:"D j M" }}|{{ t|clock }}|{% hour_cycle %}')
    with translation.override(language), clock.override(choice):
        shown = template.render(Context({"t": MOMENT}))
    day_and_time, time_of_day, cycle = shown.split("|")
    assert day_and_time == expected
    assert time_of_day == expected.split(", ")[1]
    assert cycle == ("h12" if choice == "12" else "h23")


def test_a_wall_clock_time_and_seconds() -> None:
    with translation.override("es"), clock.override("12"):
        assert clock.clock(time(0, 5)) == "12:05 a. m."
        assert clock.clock(MOMENT, seconds=True) == "4:07:00 p. m."
    with translation.override("en"):
        assert clock.clock(time(9, 5)) == "09:05"


@pytest.mark.django_db
@pytest.mark.parametrize(("choice", "twelve_hour"), [("24", False), ("12", True)])
def test_a_spanish_page_has_spanish_days_and_the_chosen_clock(
    choice: str, twelve_hour: bool
) -> None:
    therapist, session_type = therapist_with_hours(zone="UTC")
    client = User.objects.create_user(
        "sp@example.test", None, full_name="Sofía Pérez", role="client", time_zone="UTC"
    )
    CareRelationship.objects.create(therapist=therapist, client=client)
    coming = datetime.now(UTC).date() + timedelta(days=9)
    starts = datetime.combine(coming, time(15, 30), tzinfo=UTC)
    direct_appointment(session_type, client, starts)
    response = signed_in(in_spanish(client, choice)).get(reverse("my_sessions"))
    text = " ".join(" ".join(read(response.content.decode()).parts).split())
    with translation.override("es"):
        day = dateformat.format(starts, r"l j \d\e F")  # e.g. "martes 15 de diciembre"
    assert re.search(r"(lunes|martes|miércoles|jueves|viernes|sábado|domingo)", day)
    assert re.search(
        r"(enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|octubre|noviembre|diciembre)",
        day,
    )
    expected = f"{day}, {'3:30 p. m.' if twelve_hour else '15:30'}"
    assert expected in text, text[:2000]
    assert ("15:30" in text) is not twelve_hour
    assert not re.search(r"\d:\d\d ?(AM|PM)\b", text)  # no English clock beside the Spanish one


@pytest.mark.django_db
def test_long_dates_read_as_each_language_writes_them() -> None:
    day = date(2026, 12, 5)
    moment = datetime(2026, 12, 5, 14, 5, tzinfo=UTC)
    expected = {
        "en": ("Saturday 5 December", "Saturday 5 December 2026", "5 December 2026, 14:05"),
        "es": (
            "sábado 5 de diciembre",
            "sábado 5 de diciembre de 2026",
            "5 de diciembre de 2026, 14:05",
        ),
    }
    for language, (short, long, with_time) in expected.items():
        with translation.override(language), timezone.override(UTC):
            assert clock.weekday_date(day) == short
            assert clock.weekday_date(day, year=True) == long
            assert clock.day_and_time(moment, "DATE_FORMAT") == with_time
            assert clock.day_and_time(moment, "WEEKDAY_DATE_FORMAT") == f"{short}, 14:05"
