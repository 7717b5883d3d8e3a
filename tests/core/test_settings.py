"""Configuration from the environment: embedded defaults, the scaled setup, and misconfiguration
failing fast with a message that names what to set.

The defaults are checked in fresh Python processes with only the variables given, as a person
starting Ascolto would (they run side by side to keep this quick); the misconfigurations by
executing the settings module afresh in this process with the environment of the case.
"""

from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

import ascolto.config

PROBE = """
import json, os
os.environ["DJANGO_SETTINGS_MODULE"] = "ascolto.config.settings"
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

import ascolto.config
try:
    settings.DATABASES
except ImproperlyConfigured as exc:
    print(json.dumps({"error": str(exc)}))
    raise SystemExit(3)
db = settings.DATABASES["default"]
print(json.dumps({
    "db_engine": db["ENGINE"],
    "db_name": str(db["NAME"]),
    "db_init": db.get("OPTIONS", {}).get("init_command", ""),
    "channel_layer": settings.CHANNEL_LAYERS["default"]["BACKEND"],
    "channel_prefix": settings.CHANNEL_LAYERS["default"].get("CONFIG", {}).get("prefix"),
    "cache": settings.CACHES["default"]["BACKEND"],
    "huey": type(settings.HUEY).__name__,
    "huey_immediate": settings.HUEY.immediate,
    "huey_file": getattr(settings.HUEY.storage, "filename", None),
    "secret_key": settings.SECRET_KEY,
    "data_dir": str(settings.DATA_DIR),
    "email_backend": settings.EMAIL_BACKEND,
    "allowed_hosts": settings.ALLOWED_HOSTS,
    "secure_cookies": settings.SESSION_COOKIE_SECURE and settings.CSRF_COOKIE_SECURE,
    "public_url": settings.ASCOLTO_PUBLIC_URL,
}))
"""

# Variables the product reads; a case starts from none of them.
CONFIG_PREFIXES = ("ASCOLTO_", "EMAIL_", "DJANGO_", "PYTEST_")
CONFIG_NAMES = {
    "DATABASE_URL",
    "REDIS_URL",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "DEFAULT_FROM_EMAIL",
}
GOOD_KEY = "k" * 50
PRODUCTION = {"ASCOLTO_ENV": "production", "SECRET_KEY": GOOD_KEY, "ALLOWED_HOSTS": "cx.example"}
MISSING_KEY = {"ASCOLTO_ENV": "production", "ALLOWED_HOSTS": "cx.example"}

# name -> (environment, text the error must contain)
MISCONFIGURATIONS: dict[str, tuple[dict[str, str], str]] = {
    "production without SECRET_KEY": (
        MISSING_KEY,
        "SECRET_KEY is required when ASCOLTO_ENV=production",
    ),
    "production with a short SECRET_KEY": (
        {**PRODUCTION, "SECRET_KEY": "short"},
        "SECRET_KEY must be at least 32 characters",
    ),
    "production without ALLOWED_HOSTS": (
        {"ASCOLTO_ENV": "production", "SECRET_KEY": GOOD_KEY},
        "ALLOWED_HOSTS is required when ASCOLTO_ENV=production",
    ),
    "production with debug on": (
        {**PRODUCTION, "ASCOLTO_DEBUG": "true"},
        "ASCOLTO_DEBUG must be off when ASCOLTO_ENV=production",
    ),
    "unknown mode": ({"ASCOLTO_ENV": "staging"}, "ASCOLTO_ENV must be one of embedded"),
    "MySQL database": (
        {"DATABASE_URL": "mysql://root@127.0.0.1/ascolto"},
        "DATABASE_URL must point at PostgreSQL",
    ),
    "garbage database URL": (
        {"DATABASE_URL": "127.0.0.1:5432"},
        "DATABASE_URL is not a database URL",
    ),
    "database URL without a database": (
        {"DATABASE_URL": "postgres://postgres@127.0.0.1:5432"},
        "DATABASE_URL names no database",
    ),
    "HTTP Redis URL": ({"REDIS_URL": "http://127.0.0.1:6379"}, "REDIS_URL must start with"),
    "bad Redis prefix": ({"ASCOLTO_REDIS_PREFIX": "a b"}, "ASCOLTO_REDIS_PREFIX may hold only"),
    "TLS and SSL together": (
        {"EMAIL_HOST": "smtp.example", "EMAIL_USE_TLS": "1", "EMAIL_USE_SSL": "1"},
        "Set only one of EMAIL_USE_TLS",
    ),
    "port that is not a number": ({"EMAIL_PORT": "smtp"}, "EMAIL_PORT must be a whole number"),
    "port out of range": ({"EMAIL_PORT": "70000"}, "EMAIL_PORT must be a number from 1 to 65535"),
    "password without user": (
        {"EMAIL_HOST": "smtp.example", "EMAIL_HOST_PASSWORD": "x"},
        "EMAIL_HOST_USER is not",
    ),
    "yes-no that is neither": ({"ASCOLTO_DEBUG": "maybe"}, "ASCOLTO_DEBUG must be true or false"),
    "origin without scheme": (
        {"CSRF_TRUSTED_ORIGINS": "cx.example.com"},
        "CSRF_TRUSTED_ORIGINS takes full origins with a scheme",
    ),
    "public URL without scheme": (
        {"ASCOLTO_PUBLIC_URL": "cx.example.com"},
        "ASCOLTO_PUBLIC_URL must be the http(s) address customers reach Ascolto at",
    ),
    "public URL of another scheme": (
        {"ASCOLTO_PUBLIC_URL": "ftp://cx.example.com"},
        "ASCOLTO_PUBLIC_URL must be the http(s) address",
    ),
    "public URL with a bad port": (
        {"ASCOLTO_PUBLIC_URL": "https://cx.example.com:web"},
        "ASCOLTO_PUBLIC_URL has a port that is not a number",
    ),
    "unknown log level": ({"ASCOLTO_LOG_LEVEL": "loud"}, "ASCOLTO_LOG_LEVEL must be one of"),
    "data dir inside a file": (
        {"ASCOLTO_DATA_DIR": "{tmp}/a-file/data"},
        "cannot be created",
    ),
}

VALID: dict[str, dict[str, str]] = {
    "scaled": {
        "DATABASE_URL": "postgres://ascolto:pw@db.internal:5432/ascolto",
        "REDIS_URL": "redis://cache.internal:6379/0",
    },
    "production": {
        **PRODUCTION,
        "EMAIL_HOST": "smtp.example",
        "EMAIL_USE_TLS": "1",
        "ASCOLTO_PUBLIC_URL": "https://cx.example/",
    },
}
EMBEDDED_STARTS = 4
SETTINGS_FILE = str(Path(ascolto.config.__file__).with_name("settings.py"))
CLI = [sys.executable, "-c", "from ascolto.cli import main; main(prog_name='ascolto')"]


def clean_env(tmp: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in CONFIG_NAMES and not key.startswith(CONFIG_PREFIXES)
    }
    env["ASCOLTO_DATA_DIR"] = str(tmp)
    env.update({key: value.replace("{tmp}", str(tmp)) for key, value in extra.items()})
    return env


def run(command: list[str], tmp: Path, extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, env=clean_env(tmp, extra), capture_output=True, text=True, timeout=180
    )


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Start fresh processes side by side, as people would: several embedded processes on one
    new data dir at once (they must agree on one generated key), the scaled and production
    setups, and the CLI with a production setting missing."""
    probe = [sys.executable, "-c", PROBE]
    embedded_dir = tmp_path_factory.mktemp("embedded")
    jobs: dict[str, tuple[list[str], Path, dict[str, str]]] = {
        f"embedded {n}": (probe, embedded_dir, {}) for n in range(EMBEDDED_STARTS)
    }
    for name, extra in VALID.items():
        jobs[name] = (probe, tmp_path_factory.mktemp(name), extra)
    jobs["cli"] = ([*CLI, "check"], tmp_path_factory.mktemp("cli"), MISSING_KEY)
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        futures = {name: pool.submit(run, *job) for name, job in jobs.items()}
        return {name: future.result() for name, future in futures.items()}


def _report(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


@pytest.mark.parametrize("case", sorted(MISCONFIGURATIONS))
def test_misconfiguration_fails_fast_naming_what_to_set(case, tmp_path, monkeypatch):
    extra, expected = MISCONFIGURATIONS[case]
    (tmp_path / "a-file").write_text("not a directory")
    for key in list(os.environ):
        if key in CONFIG_NAMES or key.startswith(("ASCOLTO_", "EMAIL_")):
            monkeypatch.delenv(key)
    for key, value in clean_env(tmp_path, extra).items():
        monkeypatch.setenv(key, value)

    # The settings module, executed afresh in this process: quicker than a process per case.
    with pytest.raises(ImproperlyConfigured) as error:
        runpy.run_path(SETTINGS_FILE, run_name="settings_under_test")

    assert expected in str(error.value)


def test_embedded_defaults(outcomes):
    report = _report(outcomes["embedded 0"])
    data_dir = Path(report["data_dir"])

    assert report["db_engine"] == "django.db.backends.sqlite3"
    assert report["db_name"] == str(data_dir / "ascolto.sqlite3")
    assert "journal_mode=WAL" in report["db_init"]
    assert report["channel_layer"] == "channels.layers.InMemoryChannelLayer"
    assert report["huey"] == "SqliteHuey"
    assert report["huey_immediate"] is False
    assert report["huey_file"] == str(data_dir / "jobs.sqlite3")
    assert report["email_backend"] == "django.core.mail.backends.console.EmailBackend"
    assert "127.0.0.1" in report["allowed_hosts"]
    assert report["public_url"] == "http://127.0.0.1:8000"


def test_embedded_secret_key_is_generated_once_kept_private_and_shared(outcomes):
    reports = [_report(outcomes[f"embedded {n}"]) for n in range(EMBEDDED_STARTS)]
    key_file = Path(reports[0]["data_dir"]) / "secret_key"

    assert len(reports[0]["secret_key"]) >= 50
    assert {report["secret_key"] for report in reports} == {key_file.read_text()}
    assert key_file.stat().st_mode & 0o077 == 0


def test_scaled_setup_uses_postgresql_and_shares_redis(outcomes):
    report = _report(outcomes["scaled"])

    assert report["db_engine"] == "django.db.backends.postgresql"
    assert report["db_name"] == "ascolto"
    assert report["channel_layer"] == "channels_redis.core.RedisChannelLayer"
    assert report["channel_prefix"] == "ascolto"
    assert report["cache"] == "django.core.cache.backends.redis.RedisCache"
    assert report["huey"] == "RedisHuey"
    assert report["huey_immediate"] is False


def test_production_with_what_it_needs_starts_with_secure_cookies(outcomes):
    report = _report(outcomes["production"])

    assert report["secret_key"] == GOOD_KEY
    assert report["allowed_hosts"] == ["cx.example"]
    assert report["secure_cookies"] is True
    assert report["email_backend"] == "django.core.mail.backends.smtp.EmailBackend"
    assert report["public_url"] == "https://cx.example"
    assert not (Path(report["data_dir"]) / "secret_key").exists()


def test_the_cli_reports_a_configuration_error_in_one_line(outcomes):
    done = outcomes["cli"]

    assert done.returncode == 1
    assert "Configuration error: SECRET_KEY is required" in done.stderr
    assert "Traceback" not in done.stderr
