"""English as Rapport has always written it: day before month ("5 Dec 2026") and a 24-hour clock,
which no reader misreads; a person who prefers "2:30 PM" chooses it on their Account page."""

DATE_FORMAT = "j F Y"
SHORT_DATE_FORMAT = "j M Y"
TIME_FORMAT = "H:i"
DATETIME_FORMAT = "j F Y, H:i"
SHORT_DATETIME_FORMAT = "j M Y, H:i"
MONTH_DAY_FORMAT = "j F"
YEAR_MONTH_FORMAT = "F Y"
# Not Django settings (rapport.core.clock.weekday_date): "Saturday 5 December (2026)".
WEEKDAY_DATE_FORMAT = "l j F"
WEEKDAY_DATE_YEAR_FORMAT = "l j F Y"
FIRST_DAY_OF_WEEK = 1  # Monday
# 12-hour times (rapport.core.clock): "2:30 PM".
MERIDIEMS = ("AM", "PM")
