"""Spanish: "5 de diciembre de 2026"; a 24-hour clock."""

DATE_FORMAT = r"j \d\e F \d\e Y"
SHORT_DATE_FORMAT = "j M Y"
TIME_FORMAT = "H:i"
DATETIME_FORMAT = r"j \d\e F \d\e Y, H:i"
SHORT_DATETIME_FORMAT = "j M Y, H:i"
MONTH_DAY_FORMAT = r"j \d\e F"
YEAR_MONTH_FORMAT = r"F \d\e Y"
# Not Django settings (rapport.core.clock.weekday_date): "sábado 5 de diciembre (de 2026)".
WEEKDAY_DATE_FORMAT = r"l j \d\e F"
WEEKDAY_DATE_YEAR_FORMAT = r"l j \d\e F \d\e Y"
FIRST_DAY_OF_WEEK = 1  # lunes
# 12-hour times (rapport.core.clock), as browsers write them in Spanish: "2:30 p. m.".
MERIDIEMS = ("a. m.", "p. m.")
