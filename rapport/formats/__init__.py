"""Date and time conventions per language (Django's ``FORMAT_MODULE_PATH``).

``TIME_FORMAT`` is the language's usual clock: it decides whether a person who has not chosen
12- or 24-hour times sees one or the other (rapport.core.clock).
"""
