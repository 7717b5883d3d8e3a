"""Services for `Job` rows: long user-visible work with progress (NetBox's JobRunner idea)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from ascolto.core.models import Job, Workspace


def job_create(
    *, workspace: Workspace, kind: str, params: dict[str, Any], created_by_id: int | None = None
) -> Job:
    return Job.objects.create(
        workspace=workspace, kind=kind, params=params, created_by_id=created_by_id
    )


def job_start(*, job: Job, total: int | None = None) -> None:
    job.status = Job.Status.RUNNING
    job.started_at = timezone.now()
    job.progress_total = total
    job.save(update_fields=["status", "started_at", "progress_total"])


def job_progress(*, job: Job, done: int, total: int | None = None) -> None:
    job.progress_done = done
    fields = ["progress_done"]
    if total is not None:
        job.progress_total = total
        fields.append("progress_total")
    Job.objects.filter(pk=job.pk).update(**{f: getattr(job, f) for f in fields})


def job_finish(*, job: Job, result: dict[str, Any]) -> None:
    job.status = Job.Status.SUCCEEDED
    job.result = result
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "result", "finished_at", "progress_done"])


def job_fail(*, job: Job, error: str, result: dict[str, Any] | None = None) -> None:
    job.status = Job.Status.FAILED
    job.error = error[:10000]
    job.result = result or job.result
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "error", "result", "finished_at", "progress_done"])
