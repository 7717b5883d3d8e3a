"""Customer 360 background jobs. Thin: they take ids and call the importer."""

from __future__ import annotations

from huey.contrib.djhuey import db_task

from ascolto.customers import importer


@db_task()  # type: ignore[untyped-decorator]
def run_import(job_id: int) -> None:
    """Run a queued import Job (started by the upload page). No retries: the job records its
    own failure, and importing the same file again is safe."""
    importer.run_import_job(job_id)
