"""Tests that need PostgreSQL or Redis skip where there is none, and fail in CI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NEEDS_SERVERS = """
import pytest

@pytest.mark.redis
def test_needs_redis():
    pass

@pytest.mark.postgres
def test_needs_postgres():
    pass
"""


# The inner run's conftest brings in the project's server rules (tests/conftest.py).
INNER_CONFTEST = "from tests.conftest import _require_servers  # noqa: F401\n"


def _run_inner_suite(tmp_path: Path, port: int, *, ci: bool) -> subprocess.CompletedProcess[str]:
    (tmp_path / "conftest.py").write_text(INNER_CONFTEST)
    (tmp_path / "test_needs_servers.py").write_text(NEEDS_SERVERS)
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"CI", "DATABASE_URL", "REDIS_URL"} and not key.startswith("PYTEST_")
    }
    env["ASCOLTO_TEST_REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
    env["ASCOLTO_TEST_POSTGRES_URL"] = f"postgres://postgres@127.0.0.1:{port}/postgres"
    if ci:
        env["CI"] = "true"
    command = [sys.executable, "-m", "pytest", "-c", str(ROOT / "pyproject.toml")]
    command += ["--rootdir", str(tmp_path), "-q", "-p", "no:cacheprovider", str(tmp_path)]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_unreachable_servers_skip_outside_ci_and_fail_in_ci(tmp_path, free_port):
    local = _run_inner_suite(tmp_path, free_port, ci=False)
    ci = _run_inner_suite(tmp_path, free_port, ci=True)

    assert local.returncode == 0, local.stdout + local.stderr
    assert "2 skipped" in local.stdout
    assert ci.returncode == 1, ci.stdout + ci.stderr
    assert "2 errors" in ci.stdout  # failed in setup, before the test body
    assert "CI=true requires it" in ci.stdout
