"""`ascolto import` and `ascolto demo`: progress, a summary, the row errors and exit codes."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from ascolto.customers.cli import demo, import_
from ascolto.customers.models import Customer

CSV = "external_id,name,email\nA1,Giulia,giulia@example.com\nA2,Dana,nope\nA3,Noa,noa@example.com\n"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_import_prints_a_summary_and_the_bad_rows(runner, workspace, tmp_path):
    path = tmp_path / "people.csv"
    path.write_text(CSV, encoding="utf-8")

    result = runner.invoke(import_, ["customers", str(path), "--workspace", workspace.slug])

    assert result.exit_code == 3, result.output
    assert "3 rows: 2 created, 0 updated, 0 unchanged, 1 rejected" in result.output
    assert "row 3 (A2) email:" in result.output
    assert "All errors: " in result.output
    error_file = result.output.split("All errors: ")[1].strip()
    with open(error_file, encoding="utf-8") as handle:
        assert handle.read().splitlines()[1].startswith("3,A2,email,")
    assert Customer.objects.filter(workspace=workspace).count() == 2


def test_import_of_a_clean_file_exits_zero(runner, workspace, tmp_path):
    path = tmp_path / "people.jsonl"
    path.write_text('{"external_id": "J1", "name": "Tamar"}\n', encoding="utf-8")

    result = runner.invoke(import_, ["customers", str(path)])

    assert result.exit_code == 0, result.output
    assert "1 created" in result.output


def test_import_needs_a_workspace_when_there_are_several(
    runner, workspace, other_workspace, tmp_path
):
    path = tmp_path / "people.csv"
    path.write_text(CSV, encoding="utf-8")

    result = runner.invoke(import_, ["customers", str(path)])

    assert result.exit_code == 2
    assert "--workspace" in result.output


def test_a_file_that_cannot_be_imported_exits_one(runner, workspace, tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("name,email\nx,x@example.com\n", encoding="utf-8")

    result = runner.invoke(import_, ["customers", str(path)])

    assert result.exit_code == 1
    assert "Missing required column(s): external_id" in result.output


def test_help_describes_the_columns(runner):
    result = runner.invoke(import_, ["--help"])

    assert result.exit_code == 0
    assert "customer_external_id" in result.output
    assert runner.invoke(demo, ["--help"]).exit_code == 0


@pytest.mark.django_db
def test_demo_command_loads_and_reports(runner):
    result = runner.invoke(demo, ["--customers", "5", "--seed", "1"])

    assert result.exit_code == 0, result.output
    assert "5 customers" in result.output
    assert Customer.objects.filter(workspace__slug="demo").count() == 5
