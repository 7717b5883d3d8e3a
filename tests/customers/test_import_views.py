"""The upload page: a file becomes an import Job, run by the worker after commit."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from ascolto.core.models import Job
from ascolto.customers.models import Customer
from tests.accounts.factories import MembershipFactory, UserFactory
from tests.ui.conftest import login

GOOD = b"external_id,name,email\nU1,Giulia Rossi,giulia@example.com\nU2,Bad,not-an-email\n"


def upload(client, content: bytes, name: str = "people.csv", kind: str = "customers", **extra):  # type: ignore[no-untyped-def]
    data = {"kind": kind, "file": SimpleUploadedFile(name, content), **extra}
    return client.post(reverse("customers:import"), data)


def test_the_form_lists_the_columns(client, agent):
    login(client, agent)

    response = client.get(reverse("customers:import"))

    assert response.status_code == 200
    assert b"customer_external_id" in response.content
    assert b'type="file"' in response.content


def test_upload_starts_a_job_and_redirects_to_it(
    client, agent, workspace, django_capture_on_commit_callbacks
):
    login(client, agent)

    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, GOOD)

    job = Job.objects.get(workspace=workspace)
    assert response.status_code == 302
    assert response.url == reverse("job_detail", args=[job.pk])
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED
    assert job.created_by == agent
    assert (job.result["created"], job.result["failed_rows"]) == (1, 1)
    assert Customer.objects.filter(workspace=workspace, external_id="U1").exists()
    assert job.params["original_name"] == "people.csv"
    # The uploaded copy is removed once imported; the error report stays for download.
    assert not Path(job.params["path"]).exists()
    page = client.get(reverse("job_detail", args=[job.pk])).content.decode()
    download = reverse("customers:import_errors", args=[job.pk])
    assert f'href="{download}"' in page
    report = client.get(download)
    assert report.status_code == 200
    assert report["Content-Disposition"].startswith("attachment")
    assert b"not-an-email" in b"".join(report.streaming_content)  # type: ignore[attr-defined]


def test_a_wrong_header_is_refused_at_once(client, agent, workspace):
    login(client, agent)

    response = upload(client, b"id,nmae\n1,x\n")

    assert response.status_code == 400
    assert b"Unknown column" in response.content
    assert not Job.objects.filter(workspace=workspace).exists()


@pytest.mark.parametrize(
    ("content", "name", "kind", "message"),
    [
        (b"", "people.csv", "customers", b"non-empty file"),
        (GOOD, "people.csv", "invoices", b"customers or orders"),
        (GOOD, "people.xlsx", "customers", b"format"),
        (b"not json\n", "people.jsonl", "customers", b"JSON object"),
        (b"\xff\xfe\x00b", "people.csv", "customers", b"UTF-8"),
    ],
)
def test_bad_uploads_get_a_clear_400(client, agent, workspace, content, name, kind, message):
    login(client, agent)

    response = upload(client, content, name=name, kind=kind)

    assert response.status_code == 400
    assert message in response.content
    assert not Job.objects.filter(workspace=workspace).exists()


def test_analysts_cannot_import(client, workspace):
    analyst = UserFactory()
    MembershipFactory(workspace=workspace, user=analyst, role="analyst")
    login(client, analyst)

    response = upload(client, GOOD)

    assert response.status_code == 403
    assert not Job.objects.filter(workspace=workspace).exists()


def test_error_reports_of_another_workspace_are_not_found(
    client, agent, workspace, other_workspace, tmp_path
):
    login(client, agent)
    path = tmp_path / "errors.csv"
    path.write_text("row,field,message\n")
    job = Job.objects.create(
        workspace=other_workspace, kind="import.customers", result={"error_file": str(path)}
    )

    response = client.get(reverse("customers:import_errors", args=[job.pk]))

    assert response.status_code == 404
