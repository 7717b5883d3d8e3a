"""Upload a CSV / JSON Lines file of customers or orders; the import runs as a Job.

The upload is streamed to the data directory, its header is checked at once (a wrong file is a
400 with the reason, not a failed job), and a queued Job is created; the worker runs it after
the transaction commits and the browser goes to the job's page to follow its progress.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from ascolto.accounts.selectors import has_permission
from ascolto.core.models import Job
from ascolto.core.views import current_workspace, render_in_workspace
from ascolto.customers import importer, tasks
from ascolto.customers.importer_rows import (
    CUSTOMER_COLUMNS,
    ORDER_COLUMNS,
    REQUIRED_COLUMNS,
    ImportFormatError,
    check_columns,
)

MAX_UPLOAD_BYTES = 1024**3  # larger files: `ascolto import` on the server
KIND_LABELS = {"customers": "Customers", "orders": "Orders"}


def _uploads_dir() -> Path:
    return Path(settings.DATA_DIR) / "imports" / "uploads"


def _save(upload: UploadedFile[Any], fmt: str) -> Path:
    folder = _uploads_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4().hex}.{fmt}"
    with open(path, "wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
    return path


def _check_start(path: Path, kind: str, fmt: str) -> None:
    """Read the first record: the header of a CSV, the first object of JSON Lines."""
    with open(path, "rb") as handle:
        first = handle.readline(1 << 20)
    try:
        text = first.decode("utf-8-sig").strip()
    except UnicodeDecodeError:
        raise ImportFormatError(_("The file is not UTF-8 text.")) from None
    if not text:
        raise ImportFormatError(_("The file is empty."))
    if fmt == "csv":
        import csv

        delimiter = ";" if text.count(";") > text.count(",") else ","
        check_columns(kind, next(csv.reader([text], delimiter=delimiter)))
        return
    try:
        value = json.loads(text)
    except ValueError:
        raise ImportFormatError(_("The first line is not a JSON object.")) from None
    if not isinstance(value, dict):
        raise ImportFormatError(_("Each line must be a JSON object."))


def _form_context(**extra: Any) -> dict[str, Any]:
    return {
        "section": "customers",
        "kinds": [("customers", _("Customers")), ("orders", _("Orders"))],
        "customer_columns": CUSTOMER_COLUMNS,
        "order_columns": ORDER_COLUMNS,
        "required": REQUIRED_COLUMNS,
        "max_mb": MAX_UPLOAD_BYTES // (1024 * 1024),
        **extra,
    }


@login_required
@require_http_methods(["GET", "POST"])
def import_upload(request: HttpRequest) -> HttpResponse:
    workspace = current_workspace(request)
    if request.method == "GET":
        return render_in_workspace(request, "customers/import.html", _form_context())
    user = request.user
    if not has_permission(user=user, workspace=workspace, permission="write"):  # type: ignore[arg-type]
        raise PermissionDenied(_("Your role cannot import data into this workspace."))
    kind = request.POST.get("kind", "")
    chosen_format = request.POST.get("format", "") or None
    upload = request.FILES.get("file")

    def refuse(message: str) -> HttpResponse:
        context = _form_context(error=message, chosen_kind=kind, chosen_format=chosen_format)
        return render_in_workspace(request, "customers/import.html", context, status=400)

    if kind not in importer.KINDS:
        return refuse(_("Choose what the file holds: customers or orders."))
    if upload is None or not upload.size:
        return refuse(_("Choose a non-empty file to import."))
    if upload.size > MAX_UPLOAD_BYTES:
        return refuse(
            _("The file is larger than %(mb)s MB; import it with `ascolto import` on the server.")
            % {"mb": MAX_UPLOAD_BYTES // (1024 * 1024)}
        )
    try:
        fmt = importer.detect_format(upload.name or "", chosen_format)
    except ImportFormatError:
        return refuse(_("Cannot tell the format from the file name: choose CSV or JSON Lines."))
    path = _save(upload, fmt)
    try:
        _check_start(path, kind, fmt)
    except ImportFormatError as exc:
        path.unlink(missing_ok=True)
        return refuse(str(exc))
    with transaction.atomic():
        job = importer.import_job_create(
            workspace=workspace,
            kind=kind,
            path=path,
            fmt=fmt,
            created_by_id=user.pk,
            original_name=(upload.name or "")[:200],
            delete_source=True,
        )
        job_id = job.pk
        transaction.on_commit(lambda: tasks.run_import(job_id))
    return redirect("job_detail", pk=job_id)


@login_required
@require_http_methods(["GET"])
def import_errors(request: HttpRequest, pk: int) -> FileResponse:
    """Download the error report of an import job of the current workspace."""
    workspace = current_workspace(request)
    job = Job.objects.filter(
        workspace=workspace, pk=pk, kind__in=importer.JOB_KINDS.values()
    ).first()
    error_file = (job.result or {}).get("error_file") if job is not None else None
    if job is None or not error_file or not Path(error_file).is_file():
        raise Http404(_("This job has no error report."))
    path = Path(error_file)
    return FileResponse(open(path, "rb"), as_attachment=True, filename=path.name)
