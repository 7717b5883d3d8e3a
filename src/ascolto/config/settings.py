"""Ascolto settings, read from environment variables (the table is in README.md).

Embedded default (nothing set): SQLite in WAL mode inside ASCOLTO_DATA_DIR, in-memory channel
layer, SQLite-backed Huey, a generated SECRET_KEY. Scaled: DATABASE_URL (PostgreSQL) and
REDIS_URL (channel layer, job queue and cache shared by every web and worker process).
"""

from __future__ import annotations

import re
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import dj_database_url
import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from ascolto.config.env import (
    data_dir,
    env_bool,
    env_choice,
    env_int,
    env_list,
    env_public_url,
    env_str,
    in_memory_channel_layer,
    redis_channel_layer,
    secret_key,
)

django_stubs_ext.monkeypatch()

PACKAGE_DIR = Path(__file__).resolve().parent.parent

ASCOLTO_ENV = env_choice("ASCOLTO_ENV", "embedded", ("embedded", "production", "test"))
PRODUCTION = ASCOLTO_ENV == "production"
TESTING = ASCOLTO_ENV == "test" or "pytest" in sys.modules

if TESTING and not env_str("ASCOLTO_DATA_DIR"):
    # pytest-django loads settings before any conftest runs, so the test run's own data dir
    # (generated secret, SQLite job queue) is chosen here, away from the user's ~/.ascolto.
    DATA_DIR = Path(tempfile.mkdtemp(prefix="ascolto-test-"))
else:
    DATA_DIR = data_dir()
SECRET_KEY = secret_key(production=PRODUCTION, directory=DATA_DIR)
SECRET_KEY_FROM_ENV = bool(env_str("SECRET_KEY"))
DEBUG = env_bool("ASCOLTO_DEBUG", default=False)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured(
        "ASCOLTO_DEBUG must be off when ASCOLTO_ENV=production (it shows tracebacks and "
        "settings to anyone); unset ASCOLTO_DEBUG."
    )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "[::1]"])
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured(
        "ALLOWED_HOSTS is required when ASCOLTO_ENV=production, e.g. ALLOWED_HOSTS=cx.example.com"
    )
if TESTING:
    ALLOWED_HOSTS = [*ALLOWED_HOSTS, "testserver"]
# The address customers reach Ascolto at: links in emails, SMS, WhatsApp and bot answers are built
# on it (ascolto.core.links). Production without it gets an `ascolto check` warning.
ASCOLTO_PUBLIC_URL = env_public_url("ASCOLTO_PUBLIC_URL", "http://127.0.0.1:8000")
ASCOLTO_PUBLIC_URL_FROM_ENV = bool(env_str("ASCOLTO_PUBLIC_URL"))
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
for _origin in CSRF_TRUSTED_ORIGINS:
    if not _origin.startswith(("http://", "https://")):
        raise ImproperlyConfigured(
            "CSRF_TRUSTED_ORIGINS takes full origins with a scheme, e.g. "
            f"https://cx.example.com (got {_origin!r})."
        )

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "channels",
    "huey.contrib.djhuey",
    "ninja",
    "ascolto.core",
    "ascolto.accounts",
    "ascolto.customers",
    "ascolto.inbox",
    "ascolto.surveys",
    "ascolto.analytics",
    "ascolto.helpcenter",
    "ascolto.assistant",
    "ascolto.connectors.webchat",
    "ascolto.connectors.api_channel",
    "ascolto.connectors.twilio",
    "ascolto.connectors.meta",
    "ascolto.connectors.voice",
    "ascolto.connectors.email",
    "ascolto.connectors.settings_ui",
    "ascolto.engagement",
    "ascolto.recommendations",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After authentication: the signed-in user's saved language beats an older cookie.
    "ascolto.core.middleware.UserLocaleMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "ascolto.core.middleware.CurrentWorkspaceMiddleware",
]

ROOT_URLCONF = "ascolto.config.urls"
ASGI_APPLICATION = "ascolto.config.asgi.application"
WSGI_APPLICATION = "ascolto.config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "ascolto.core.context_processors.workspace",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
_DATABASE_URL_EXAMPLE = "Example: DATABASE_URL=postgres://user:password@127.0.0.1:5432/ascolto"
if DATABASE_URL:
    try:
        _db: dict[str, Any] = dict(dj_database_url.parse(DATABASE_URL, conn_max_age=60))
    except Exception:
        raise ImproperlyConfigured(
            f"DATABASE_URL is not a database URL we understand. {_DATABASE_URL_EXAMPLE}"
        ) from None
    if _db["ENGINE"] not in {
        "django.db.backends.postgresql",
        "django.db.backends.sqlite3",
    }:
        raise ImproperlyConfigured(
            "DATABASE_URL must point at PostgreSQL (postgres://...) or SQLite (sqlite:///path). "
            + _DATABASE_URL_EXAMPLE
        )
    if not _db.get("NAME"):
        raise ImproperlyConfigured(f"DATABASE_URL names no database. {_DATABASE_URL_EXAMPLE}")
    if _db["ENGINE"] == "django.db.backends.postgresql":
        _db["CONN_HEALTH_CHECKS"] = True
        _db.setdefault("OPTIONS", {}).setdefault("connect_timeout", 10)
        # Under ASGI every request's sync code runs in a thread of its own, so persistent
        # per-thread connections pile up (one per request) until PostgreSQL refuses clients.
        # A pool per process (psycopg_pool) reuses a few connections instead.
        _pool_size = env_int("ASCOLTO_DB_POOL_SIZE", 0, minimum=0)
        if _pool_size:
            _db["CONN_MAX_AGE"] = 0
            _db["CONN_HEALTH_CHECKS"] = False
            _db["OPTIONS"]["pool"] = {"min_size": 1, "max_size": _pool_size, "timeout": 10}
else:
    _db = {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(DATA_DIR / "ascolto.sqlite3"),
    }
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server read while the in-process worker writes; IMMEDIATE transactions
    # take the write lock up front, so two writers queue instead of failing with "locked".
    _db["OPTIONS"] = {
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000; "
            "PRAGMA foreign_keys=ON;"
        ),
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    _db["TEST"] = (
        {"NAME": str(DATA_DIR / "test.sqlite3")} if env_bool("ASCOLTO_TEST_FILE_DB") else {}
    )
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
IS_POSTGRES = _db["ENGINE"] == "django.db.backends.postgresql"

# --- Redis: channel layer, job queue and cache ---------------------------------------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL and not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
    raise ImproperlyConfigured(
        "REDIS_URL must start with redis://, rediss:// or unix://, "
        f"e.g. redis://127.0.0.1:6379/0 (got {REDIS_URL!r})."
    )
# Several installations (or test runs) can share one Redis: every key, channel group and queue
# name starts with this prefix.
# Test runs get a prefix of their own so that parallel runs never see each other's events.
REDIS_PREFIX = env_str(
    "ASCOLTO_REDIS_PREFIX", f"ascolto-test-{uuid.uuid4().hex[:10]}" if TESTING else "ascolto"
)
if not re.fullmatch(r"[A-Za-z0-9_.-]{1,40}", REDIS_PREFIX):
    raise ImproperlyConfigured(
        "ASCOLTO_REDIS_PREFIX may hold only letters, digits, '.', '_' and '-' "
        f"(at most 40; got {REDIS_PREFIX!r})."
    )

if REDIS_URL:
    CHANNEL_LAYERS = {"default": redis_channel_layer(REDIS_URL, REDIS_PREFIX)}
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": REDIS_PREFIX,
        }
    }
else:
    CHANNEL_LAYERS = {"default": in_memory_channel_layer()}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

HUEY_IMMEDIATE = env_bool("ASCOLTO_HUEY_IMMEDIATE", default=TESTING)
if REDIS_URL:
    from huey import RedisHuey

    HUEY = RedisHuey(
        REDIS_PREFIX,
        url=REDIS_URL,
        results=False,  # no job's return value is ever read: stored, they would pile up
        immediate=HUEY_IMMEDIATE,
        utc=True,
    )
else:
    from huey import SqliteHuey

    HUEY = SqliteHuey(
        "ascolto",
        filename=str(DATA_DIR / "jobs.sqlite3"),
        results=False,
        immediate=HUEY_IMMEDIATE,
        utc=True,
    )

# --- Auth, sessions, security ---------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
if TESTING:
    # Tests create many users; a slow hash per user costs seconds and protects nothing there.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if PRODUCTION else None

# Bodies past this size are refused with 413 before they are parsed.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("ASCOLTO_MAX_BODY_BYTES", 10 * 1024 * 1024, minimum=1024)

# --- Internationalisation -------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("it", _("Italian")), ("he", _("Hebrew"))]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "UTC"

# --- Static and media -----------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATICFILES_DIRS = [path for path in [PACKAGE_DIR / "static"] if path.is_dir()]
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = not PRODUCTION
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("ASCOLTO_MEDIA_ROOT") or DATA_DIR / "media")

# --- Email ----------------------------------------------------------------------------------
EMAIL_HOST = env_str("EMAIL_HOST")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1, maximum=65535)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", default=False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured(
        "Set only one of EMAIL_USE_TLS (STARTTLS, usually port 587) and EMAIL_USE_SSL "
        "(implicit TLS, usually port 465)."
    )
if EMAIL_HOST_PASSWORD and not EMAIL_HOST_USER:
    raise ImproperlyConfigured("EMAIL_HOST_PASSWORD is set but EMAIL_HOST_USER is not; set both.")
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 20, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Ascolto <ascolto@localhost>")
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)

# --- Logging --------------------------------------------------------------------------------
LOG_LEVEL = env_choice(
    "ASCOLTO_LOG_LEVEL", "info", ("debug", "info", "warning", "error", "critical")
).upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"huey": {"level": "WARNING"}},
}

# --- Product --------------------------------------------------------------------------------
ASCOLTO_OUTBOX_BATCH = env_int("ASCOLTO_OUTBOX_BATCH", 200, minimum=1)
ASCOLTO_BULK_LIMIT = 1000
