"""Rapport's one settings module. Every value comes from the environment (see README).

With no variable set at all Rapport runs embedded: SQLite in the data folder, in-memory channel
layer, database cache and task queue, and secret + encryption keys generated into the data folder.
That is demo mode; ``RAPPORT_ENV=production`` refuses to start without real secrets.
"""

from __future__ import annotations

import secrets
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from django.utils.csp import CSP  # type: ignore[import-untyped,unused-ignore]
from django.utils.translation import gettext_lazy as _

from rapport.lib.config import (
    ConfigError,
    env_bool,
    env_int,
    env_list,
    env_str,
    private_file,
    private_folder,
    read_or_create_secret,
)
from rapport.lib.crypto import generate_key
from rapport.lib.turn import check_ice_settings
from rapport.lib.vapid import generate_vapid_key, vapid_public_key

BASE_DIR = Path(__file__).resolve().parent

RAPPORT_ENV = env_str("RAPPORT_ENV", "demo")
if RAPPORT_ENV not in {"demo", "production"}:
    raise ConfigError("RAPPORT_ENV must be 'demo' or 'production'")
DEMO_MODE = RAPPORT_ENV == "demo"
DATA_DIR = Path(env_str("RAPPORT_DATA_DIR", str(Path.cwd() / "var"))).resolve()
DEBUG = env_bool("RAPPORT_DEBUG", False)

# --- Secrets -------------------------------------------------------------------------------------
SECRET_KEY = env_str("RAPPORT_SECRET_KEY")
RAPPORT_ENCRYPTION_KEYS = env_list("RAPPORT_ENCRYPTION_KEYS")
# Key of the audit trail's HMAC chain. Kept apart from the secret key so that rotating that one
# does not make old audit events unverifiable; derived from the secret key when unset.
RAPPORT_AUDIT_KEY = env_str("RAPPORT_AUDIT_KEY")
# Where the audit chain's head is checkpointed (rapport.audit.anchor): an append-only file outside
# the data folder, which a database writer cannot rewrite; optionally a syslog server as well.
RAPPORT_AUDIT_ANCHOR = Path(
    env_str("RAPPORT_AUDIT_ANCHOR", str(DATA_DIR.with_name(DATA_DIR.name + ".audit-anchor")))
).resolve()
RAPPORT_AUDIT_ANCHOR_SECONDS = env_int("RAPPORT_AUDIT_ANCHOR_SECONDS", 300)
RAPPORT_AUDIT_ANCHOR_SYSLOG = env_str("RAPPORT_AUDIT_ANCHOR_SYSLOG")  # /dev/log or host:port (UDP)
# The task worker (rapport.core.worker): every running worker beats every HEARTBEAT seconds; what
# a worker silent for LEASE seconds had claimed is run again. A failed task or email is tried
# again after RETRY, 4 x RETRY, 16 x RETRY ... seconds, ATTEMPTS times in all, then marked failed.
RAPPORT_WORKER_HEARTBEAT_SECONDS = env_int("RAPPORT_WORKER_HEARTBEAT_SECONDS", 5)
RAPPORT_WORKER_LEASE_SECONDS = env_int("RAPPORT_WORKER_LEASE_SECONDS", 30)
RAPPORT_RETRY_SECONDS = env_int("RAPPORT_RETRY_SECONDS", 30)
RAPPORT_RETRY_ATTEMPTS = env_int("RAPPORT_RETRY_ATTEMPTS", 5)
if DEMO_MODE:
    if not SECRET_KEY:
        SECRET_KEY = read_or_create_secret(
            DATA_DIR / "secret_key", lambda: secrets.token_urlsafe(50)
        )
    if not RAPPORT_ENCRYPTION_KEYS:
        RAPPORT_ENCRYPTION_KEYS = [read_or_create_secret(DATA_DIR / "encryption_key", generate_key)]
else:
    missing = [
        name
        for name, value in (
            ("RAPPORT_SECRET_KEY", SECRET_KEY),
            ("RAPPORT_ENCRYPTION_KEYS", RAPPORT_ENCRYPTION_KEYS),
        )
        if not value
    ]
    if missing:
        raise ConfigError(
            "production refuses to start without "
            + " and ".join(missing)
            + " (set them, or RAPPORT_ENV=demo for a throwaway demo)"
        )

# Web Push (rapport.push): the practice's VAPID key. Demo generates one into the data folder like
# the other keys; production sends no push notices without it (nothing else depends on it).
RAPPORT_VAPID_PRIVATE_KEY = env_str("RAPPORT_VAPID_PRIVATE_KEY")
if DEMO_MODE and not RAPPORT_VAPID_PRIVATE_KEY:
    RAPPORT_VAPID_PRIVATE_KEY = read_or_create_secret(
        DATA_DIR / "vapid_private_key", generate_vapid_key
    )
RAPPORT_VAPID_PUBLIC_KEY = (
    vapid_public_key(RAPPORT_VAPID_PRIVATE_KEY) if RAPPORT_VAPID_PRIVATE_KEY else ""
)

# --- Hosts and HTTPS -----------------------------------------------------------------------------
ALLOWED_HOSTS = env_list("RAPPORT_ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("RAPPORT_CSRF_TRUSTED_ORIGINS")
HTTPS = env_bool("RAPPORT_HTTPS", not DEMO_MODE)
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("RAPPORT_BEHIND_PROXY", False) else None
)
SECURE_SSL_REDIRECT = HTTPS and env_bool("RAPPORT_SSL_REDIRECT", True)
# Local health probes and the metrics scraper speak plain HTTP to 127.0.0.1.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env_int("RAPPORT_HSTS_SECONDS", 31536000) if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_NAME = "__Host-rapport_session" if HTTPS else "rapport_session"
CSRF_COOKIE_NAME = "__Host-rapport_csrf" if HTTPS else "rapport_csrf"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
# Camera and microphone stay off everywhere; the session room grants them on its own response.
PERMISSIONS_POLICY = (
    "camera=(), microphone=(), geolocation=(), display-capture=(), payment=(), usb=(), "
    "interest-cohort=()"
)

# --- Applications --------------------------------------------------------------------------------
INSTALLED_APPS = [
    "rapport.core",
    "rapport.accounts",
    "rapport.care",
    "rapport.audit",
    "rapport.scheduling",
    "rapport.visits",
    "rapport.messaging",
    "rapport.safety",
    "rapport.measures",
    "rapport.diagnoses",
    "rapport.crisis",
    "rapport.intake",
    "rapport.plans",
    "rapport.homework",
    "rapport.journal",
    "rapport.notes",
    "rapport.billing",
    "rapport.records",
    "rapport.push",
    "rapport.outcomes",
    "rapport.matching",
    "rapport.signup",
    "rapport.home",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_countries",  # country names in the reader's language
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "django_tasks_db",
    "channels",
]

MIDDLEWARE = [
    # First: times everything below it, redirects and refusals included.
    "rapport.core.metrics.RequestMetricsMiddleware",
    "rapport.accounts.middleware.PracticeOncePerRequestMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "rapport.core.middleware.SecurityHeadersMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Before the session lifetime check: it tells the person why they were signed out.
    "django.contrib.messages.middleware.MessageMiddleware",
    "rapport.accounts.middleware.SessionLifetimeMiddleware",
    "rapport.accounts.middleware.UserPreferencesMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "rapport.accounts.middleware.RequireMFAMiddleware",
]

ROOT_URLCONF = "rapport.urls"
ASGI_APPLICATION = "rapport.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "rapport.home.context_processors.rapport",
            ],
            # {{ obj|label:"field" }}, {{ moment|clock }} and {{ moment|day_and_time:"D j M" }} on
            # every page (rapport/core/templatetags/choices.py and clock.py).
            "builtins": ["rapport.core.templatetags.choices", "rapport.core.templatetags.clock"],
        },
    },
]
# Every form and field is drawn by Rapport's two templates (rapport/core/forms.py).
FORM_RENDERER = "rapport.core.forms.FormRenderer"

# --- Database ------------------------------------------------------------------------------------


def _database(url: str) -> dict[str, Any]:
    if not url:
        # Made 0600 before SQLite opens it: SQLite gives its WAL and shared-memory files the
        # database file's mode.
        private_file(private_folder(DATA_DIR) / "rapport.sqlite3")
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "rapport.sqlite3",
            # IMMEDIATE: a write transaction takes the write lock at BEGIN, so check-then-write
            # sequences (booking, audit chain) are serialized instead of failing at COMMIT.
            # secure_delete: SQLite zeroes what a DELETE or UPDATE frees, so an erased record
            # (or an earlier version of a changed row) leaves no copy in the file's free space.
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
                    "PRAGMA secure_delete=ON;"
                ),
            },
            "TEST": {"NAME": str(DATA_DIR / "test.sqlite3")},
        }
    parts = urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql"}:
        raise ConfigError("DATABASE_URL must start with postgres:// (or leave it unset for SQLite)")
    options = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parts.path.lstrip("/")) or "rapport",
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
        "CONN_MAX_AGE": env_int("RAPPORT_DB_CONN_MAX_AGE", 0),
        "OPTIONS": options,
    }


DATABASE_URL = env_str("DATABASE_URL")
DATABASES = {"default": _database(DATABASE_URL)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache, channel layer, tasks -----------------------------------------------------------------
# The cache holds security state (sign-in rate limits, lockouts, used TOTP codes), so it lives in
# the database whatever else is configured: a Redis outage neither breaks sign-in nor resets a
# lockout. (Nothing else uses it; the table comes with ``migrate``.)
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "rapport_cache",
    }
}
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # Redis publish/subscribe: a group_send is one PUBLISH, and each server process keeps
            # one subscription per group its sockets joined. Events are not stored in Redis: a
            # socket that is down misses them and catches up from the database (messages are
            # fetched by sequence number after a reconnect). The list-based RedisChannelLayer
            # took several round trips per group_send and could not keep up with messaging.
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {
                # redis-py 8 reads with a 5 s socket timeout by default (django/channels_redis#422).
                "hosts": [{"address": REDIS_URL, "socket_timeout": 15}],
                "prefix": env_str("RAPPORT_CACHE_PREFIX", "rapport") + ":asgi",
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "rapport.core.layers.InProcessChannelLayer"}}

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
# Check that every published live event is plain JSON (rapport.core.realtime). The tests turn it
# on: the in-process layer would pass anything, Redis only what it can serialise.
RAPPORT_CHECK_EVENTS = env_bool("RAPPORT_CHECK_EVENTS", False)

# --- Accounts and sign-in ------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
# Django's and allauth's, reading the person with their second factor (one query, not two).
AUTHENTICATION_BACKENDS = [
    "rapport.accounts.backends.ModelBackend",
    "rapport.accounts.backends.AuthenticationBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"

ACCOUNT_ADAPTER = "rapport.accounts.adapter.AccountAdapter"
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
# A client signing up also asks for a therapist: name, age, where, how (rapport.signup).
ACCOUNT_FORMS = {"signup": "rapport.signup.forms.ClientSignupForm"}
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = False
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_REAUTHENTICATION_TIMEOUT = env_int("RAPPORT_SUDO_SECONDS", 300)
# Adding, removing or making primary an email address (and setting a first password) needs a
# sign-in or re-authentication within the sudo window; changing a password needs the current one.
ACCOUNT_REAUTHENTICATION_REQUIRED = True
# A content-free notice for every change of sign-in details (rapport.accounts.notices for adding
# and removing an address; allauth for the rest), so an owner hears of a takeover.
ACCOUNT_EMAIL_NOTIFICATIONS = True
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Rapport] "
LOCKOUT_FAILURES = env_int("RAPPORT_LOCKOUT_FAILURES", 5)
LOCKOUT_MINUTES = env_int("RAPPORT_LOCKOUT_MINUTES", 15)
ACCOUNT_RATE_LIMITS = {
    # Lockout: after N failed passwords for one address, sign-in for it is refused for M minutes.
    "login_failed": f"{LOCKOUT_FAILURES * 4}/{LOCKOUT_MINUTES}m/ip,"
    f"{LOCKOUT_FAILURES}/{LOCKOUT_MINUTES}m/key",
    "login": "30/m/ip",
    "signup": "10/h/ip",
    "confirm_email": "1/3m/key",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    "change_password": "5/m/user",
    "reauthenticate": "10/m/user",
}

MFA_ADAPTER = "rapport.accounts.adapter.MFAAdapter"
# The code forms, so that a lockout (too many wrong codes) is audited like a password lockout.
MFA_FORMS = {
    "authenticate": "rapport.accounts.forms.SecondFactorForm",
    "reauthenticate": "rapport.accounts.forms.SecondFactorAgainForm",
}
MFA_SUPPORTED_TYPES = ["totp", "webauthn", "recovery_codes"]
MFA_PASSKEY_LOGIN_ENABLED = True
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = DEMO_MODE and not HTTPS
# The practice's name where the database cannot be asked: authenticator apps, the error pages.
RAPPORT_PRACTICE_NAME = env_str("RAPPORT_PRACTICE_NAME", "Rapport")
MFA_TOTP_ISSUER = RAPPORT_PRACTICE_NAME
MFA_RECOVERY_CODE_COUNT = 10
# One 30-second step either way: phones drift, and a code typed at a step boundary still works.
MFA_TOTP_TOLERANCE = 1

SESSION_IDLE_TIMEOUT = env_int("RAPPORT_SESSION_IDLE_MINUTES", 30) * 60
SESSION_ABSOLUTE_LIFETIME = env_int("RAPPORT_SESSION_MAX_HOURS", 12) * 3600
SESSION_COOKIE_AGE = SESSION_ABSOLUTE_LIFETIME
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
INVITATION_DAYS = env_int("RAPPORT_INVITATION_DAYS", 7)
EMERGENCY_ACCESS_MINUTES = env_int("RAPPORT_EMERGENCY_ACCESS_MINUTES", 60)

# --- Email ---------------------------------------------------------------------------------------
RAPPORT_EMAIL_HOST = env_str("RAPPORT_EMAIL_HOST")
if RAPPORT_EMAIL_HOST:
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": RAPPORT_EMAIL_HOST,
                "port": env_int("RAPPORT_EMAIL_PORT", 587),
                "username": env_str("RAPPORT_EMAIL_USER") or None,
                "password": env_str("RAPPORT_EMAIL_PASSWORD") or None,
                "use_tls": env_bool("RAPPORT_EMAIL_TLS", True),
                "timeout": 20,
            },
        }
    }
else:
    # No mail server configured (demo): emails are printed on the console.
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}
DEFAULT_FROM_EMAIL = env_str("RAPPORT_FROM_EMAIL", "Rapport <no-reply@localhost>")
SITE_URL = env_str("RAPPORT_SITE_URL", "http://127.0.0.1:8000").rstrip("/")
# Who push services may contact about this server's notices (VAPID "sub": mailto: or https:).
RAPPORT_VAPID_SUBJECT = env_str(
    "RAPPORT_VAPID_SUBJECT",
    "mailto:" + parseaddr(DEFAULT_FROM_EMAIL)[1] if parseaddr(DEFAULT_FROM_EMAIL)[1] else SITE_URL,
)
if not RAPPORT_VAPID_SUBJECT.startswith(("mailto:", "https://", "http://")):
    raise ConfigError("RAPPORT_VAPID_SUBJECT must start with mailto: or https://")
# The push services the worker may post to (a subscription's endpoint must be on one of them, so
# nobody can aim the server at another machine): Google's (Chrome, Edge, Android), Mozilla's,
# Apple's and Microsoft's. "*.host" matches any name under host; a scheme and port may be given.
RAPPORT_PUSH_SERVICES = env_list(
    "RAPPORT_PUSH_SERVICES",
    [
        "https://fcm.googleapis.com",
        "https://*.push.services.mozilla.com",
        "https://*.push.apple.com",
        "https://*.notify.windows.com",
    ],
)
# How long a push service keeps a notice for a device that is off (seconds).
RAPPORT_PUSH_TTL_SECONDS = env_int("RAPPORT_PUSH_TTL_SECONDS", 3600)

# --- Locale --------------------------------------------------------------------------------------
LANGUAGE_CODE = "en"
# Only languages whose translation is complete are offered (tests/test_translations.py checks it).
LANGUAGES = [("en", _("English")), ("es", _("Spanish"))]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "UTC"
LOCALE_PATHS = [BASE_DIR / "locale"]
# Each language's date and time conventions (rapport/formats/<language>/formats.py); the person's
# 12/24-hour choice is applied on top by rapport.core.clock.
FORMAT_MODULE_PATH = ["rapport.formats"]

# --- Static files --------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = private_folder(private_folder(DATA_DIR) / "static")
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Message attachments, encrypted (rapport.messaging.attachments). Back it up with the database:
# an attachment row whose file is missing cannot be opened.
RAPPORT_ATTACHMENTS_DIR = Path(
    env_str("RAPPORT_ATTACHMENTS_DIR", str(DATA_DIR / "attachments"))
).resolve()

# --- Logging: never client content; security events go to the audit trail, not the log ---------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {
        "redact": {"()": "rapport.lib.redact.RedactSecrets"},
        # An outage (database or Redis down) makes every request fail the same way: the first
        # failure is logged in full, its repeats within a minute are counted, not written.
        "repeats": {
            "()": "rapport.lib.logs.CollapseRepeats",
            "seconds": env_int("RAPPORT_LOG_REPEAT_SECONDS", 60),
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["repeats", "redact"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("RAPPORT_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # WeasyPrint (the record PDF) reports every step of every document at INFO.
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}
CSRF_FAILURE_VIEW = "rapport.core.views.csrf_failure"

# --- Live session rooms --------------------------------------------------------------------------
# ICE servers handed to browsers (rapport.lib.turn). TURN uses coturn's REST credentials:
# RAPPORT_TURN_SECRET is coturn's static-auth-secret (docs/deployment.md, "TURN server").
RAPPORT_STUN_URLS = env_list("RAPPORT_STUN_URLS")
RAPPORT_TURN_URLS = env_list("RAPPORT_TURN_URLS")  # e.g. turn:turn.example.org:3478?transport=udp
RAPPORT_TURN_SECRET = env_str("RAPPORT_TURN_SECRET")
RAPPORT_TURN_TTL_SECONDS = env_int("RAPPORT_TURN_TTL_SECONDS", 4 * 3600)
RAPPORT_ICE_TRANSPORT_POLICY = env_str("RAPPORT_ICE_TRANSPORT_POLICY", "all")  # or "relay"
check_ice_settings(
    RAPPORT_STUN_URLS,
    RAPPORT_TURN_URLS,
    RAPPORT_TURN_SECRET,
    RAPPORT_TURN_TTL_SECONDS,
    RAPPORT_ICE_TRANSPORT_POLICY,
)

# A client whose page reloads or whose browser crashes comes back in without being admitted again
# when they return within this many seconds.
RAPPORT_VISIT_REJOIN_GRACE_SECONDS = env_int("RAPPORT_VISIT_REJOIN_GRACE_SECONDS", 300)

# --- Health and metrics (rapport.core.health, rapport.core.metrics) ----------------------------
# /readyz fails when the data folder's disk has less free space than this, or when a task due
# to run has waited longer than this for a worker.
RAPPORT_READY_MIN_FREE_MB = env_int("RAPPORT_READY_MIN_FREE_MB", 1024)
RAPPORT_READY_MAX_QUEUE_AGE_SECONDS = env_int("RAPPORT_READY_MAX_QUEUE_AGE_SECONDS", 300)
# The bearer token Prometheus sends to /metrics; without one /metrics answers 404.
RAPPORT_METRICS_TOKEN = env_str("RAPPORT_METRICS_TOKEN")
if RAPPORT_METRICS_TOKEN and len(RAPPORT_METRICS_TOKEN) < 32:
    raise ConfigError("RAPPORT_METRICS_TOKEN must be at least 32 characters")
# Where `rapport serve` keeps its processes' metric files (prometheus_client multiprocess mode).
RAPPORT_METRICS_DIR = Path(env_str("RAPPORT_METRICS_DIR", str(DATA_DIR / "metrics"))).resolve()

# Threads for socket consumers' database work on PostgreSQL (each keeps a connection open).
RAPPORT_DB_THREADS = env_int("RAPPORT_DB_THREADS", 4)
# Threads serving HTTP requests in each server process (rapport.core.http); each keeps its
# database connection this many seconds (other threads follow DATABASES' CONN_MAX_AGE).
RAPPORT_WEB_THREADS = env_int("RAPPORT_WEB_THREADS", 2)
RAPPORT_WEB_CONN_MAX_AGE = env_int("RAPPORT_WEB_CONN_MAX_AGE", 600)

# --- Messaging -----------------------------------------------------------------------------------
# Messages (sends, corrections, retractions) per user: a burst, then this many per second.
RAPPORT_MESSAGE_BURST = env_int("RAPPORT_MESSAGE_BURST", 30)
RAPPORT_MESSAGE_RATE = env_int("RAPPORT_MESSAGE_RATE", 2)
# Frames of any kind on one messages socket: a burst, then this many per second.
RAPPORT_MESSAGE_SOCKET_BURST = env_int("RAPPORT_MESSAGE_SOCKET_BURST", 100)
RAPPORT_MESSAGE_SOCKET_RATE = env_int("RAPPORT_MESSAGE_SOCKET_RATE", 20)
# When a call steps down by itself (docs/protocol.md, "Quality policy"). The defaults start from
# Microsoft Teams' network targets (RTT < 100 ms, loss < 1 %, jitter < 30 ms), ITU-T G.114 (one-way
# delay up to 150 ms fine) and ~500 kbit/s for 360p video, loosened so that a usable call is not
# stepped down: a 300 ms round trip or 5 % loss sustained for several seconds.
RAPPORT_QUALITY_POLICY = {
    "sample_seconds": env_int("RAPPORT_QUALITY_SAMPLE_SECONDS", 2),
    "poor": {
        "rtt_ms": env_int("RAPPORT_QUALITY_POOR_RTT_MS", 300),
        "loss": env_int("RAPPORT_QUALITY_POOR_LOSS_PERCENT", 5) / 100,
        "jitter_ms": env_int("RAPPORT_QUALITY_POOR_JITTER_MS", 50),
        "video_kbps": env_int("RAPPORT_QUALITY_POOR_VIDEO_KBPS", 150),
    },
    "lower_video_after_seconds": env_int("RAPPORT_QUALITY_LOWER_VIDEO_AFTER", 6),
    "audio_only_after_seconds": env_int("RAPPORT_QUALITY_AUDIO_ONLY_AFTER", 12),
    "audio_poor": {
        "rtt_ms": env_int("RAPPORT_QUALITY_AUDIO_POOR_RTT_MS", 800),
        "loss": env_int("RAPPORT_QUALITY_AUDIO_POOR_LOSS_PERCENT", 20) / 100,
    },
    "text_after_seconds": env_int("RAPPORT_QUALITY_TEXT_AFTER", 20),
    "recover_after_seconds": env_int("RAPPORT_QUALITY_RECOVER_AFTER", 4),
}
