"""Import of customers and orders from CSV and JSON Lines, streamed, as a `Job` with progress.

File formats
============

Both kinds come as CSV (UTF-8, a header row, comma- or semicolon-separated; a BOM is fine) or as
JSON Lines (one JSON object per line, UTF-8). A CSV header may name only the columns below; an
unknown or duplicated column stops the import before anything is written, so a typo never drops
data silently. Empty CSV cells and JSON nulls mean "not given".

Customers (upsert by ``external_id``; a value that is not given leaves the stored one unchanged)

=================  ======================================================================
external_id        required, at most 100 characters; the key of the upsert
name               at most 200 characters
email              an email address (stored lower-cased)
phone, whatsapp    a phone number with its country code, e.g. ``+39 347 123 4567``
                   (stored in E.164: ``+393471234567``)
locale             a language code: ``it``, ``he``, ``en``, ``pt-BR``...
timezone           an IANA time zone such as ``Europe/Rome``
birthday           ``YYYY-MM-DD``
value_tier         ``platinum``, ``gold``, ``silver`` or ``bronze``
attributes         a JSON object of custom attributes, e.g. ``{"loyalty_member": true}``;
                   in CSV, ``attr.<key>`` columns work too (``attr.loyalty_member``).
                   Every key must be defined in the workspace; attributes are merged key
                   by key and a null removes one.
=================  ======================================================================

JSON Lines may also carry ``"identities": {"web": "visitor-id", "messenger": "..."}`` for the
other identity kinds. An identity that already belongs to another customer makes the row fail
(merge the two profiles instead); nothing of that row is written.

Orders (upsert by ``external_id``; each row is the full state of the order)

=====================  ==================================================================
external_id            required, at most 100 characters
customer_external_id   required: the ``external_id`` of a customer already imported (an
                       order of a merged profile goes to the profile it was merged into)
status                 pending (default), paid, shipped, delayed, delivered, cancelled,
                       returned, refunded
placed_at              required: ISO 8601 date and time with a time zone,
                       e.g. ``2026-03-01T10:15:00+01:00`` or ``...Z``
delivered_at           same format, optional
promised_at            same format, optional
total                  required: a non-negative amount with a dot, e.g. ``49.90``
currency               required: ISO 4217 code such as ``EUR``
metadata               a JSON object, optional
lines                  a JSON array of ``{"sku", "name", "quantity", "unit_price"}``;
                       when given it replaces the order's lines, when absent they are kept
=====================  ==================================================================

After the orders, every customer whose orders changed gets its lifetime spend, order count and
last order time recomputed (the rule of ``services.orders.customer_refresh_stats``).

Errors
======

A bad row never stops the good ones. Each problem is reported with the row (the line of the file
where the record starts; the CSV header is line 1), the field and a message, in an error file in
the same format as the input (``<data dir>/imports/job-<id>-errors.csv|jsonl``); the first ones
are kept in the job's result for the UI. The import writes in batches, each in one transaction;
re-running the same file updates what changed and creates nothing twice. The job records one
audit log entry and one outbox event, ``customers.import.completed``.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import multiprocessing
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction

from ascolto.core import outbox
from ascolto.core.actors import Actor
from ascolto.core.audit import audit_record
from ascolto.core.jobs import job_create, job_fail, job_finish, job_progress, job_start
from ascolto.core.models import Job, Workspace
from ascolto.customers.importer_parallel import ParallelWriter
from ascolto.customers.importer_rows import (
    CUSTOMER_COLUMNS,
    ORDER_COLUMNS,
    AttributeSpec,
    CustomerRecord,
    ImportFormatError,
    OrderRecord,
    RowError,
    RowValidator,
    check_columns,
)
from ascolto.customers.importer_sql import BatchOutcome, SqlWriter
from ascolto.customers.models import AttributeDefinition

logger = logging.getLogger(__name__)

__all__ = [
    "ImportFormatError",
    "ImportResult",
    "RowError",
    "detect_format",
    "import_file",
    "import_job_create",
    "import_records",
    "run_import_job",
]

Kind = Literal["customers", "orders"]
Format = Literal["csv", "jsonl"]
Progress = Callable[[int, int], None]
Record = CustomerRecord | OrderRecord

KINDS: tuple[Kind, ...] = ("customers", "orders")
FORMATS: tuple[Format, ...] = ("csv", "jsonl")
JOB_KINDS = {"customers": "import.customers", "orders": "import.orders"}
BATCH_SIZE = 50_000
# SQLite has one writer at a time: smaller transactions keep the web app's writes flowing.
SQLITE_BATCH_SIZE = 10_000
CHUNK_ROWS = 2_000
SAMPLE_ERRORS = 100
WRITE_ATTEMPTS = 3
ANALYZE_FIRST = 20_000
# Below this size, worker processes and writer connections cost more to start than they save.
PARALLEL_MIN_BYTES = 16 * 1024 * 1024
# Database connections writing batches at once (PostgreSQL; one backend uses one core).
WRITERS = 2
JSONL_EXTRA_KEYS = {"customers": {"identities"}, "orders": set()}

# A chunk of raw rows: (kind, format, header or None, [(row number, CSV values or JSON text)]);
# the format "objects" carries dicts already decoded.
RawChunk = tuple[str, str, list[str] | None, list[tuple[int, Any]]]


@dataclass
class ImportResult:
    kind: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed_rows: int = 0
    error_count: int = 0
    error_file: str | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    stats_refreshed: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "failed_rows": self.failed_rows,
            "error_count": self.error_count,
            "error_file": self.error_file,
            "errors": self.errors,
            "stats_refreshed": self.stats_refreshed,
            "seconds": round(self.seconds, 2),
        }


# -- reading ----------------------------------------------------------------------------------
def detect_format(path: str | Path, fmt: str | None = None) -> Format:
    if fmt:
        if fmt not in FORMATS:
            raise ImportFormatError(f"Unknown format {fmt!r}: use csv or jsonl.")
        return fmt
    suffix = Path(path).suffix.lower()
    if suffix in {".jsonl", ".ndjson", ".json"}:
        return "jsonl"
    if suffix in {".csv", ".txt", ".tsv"}:
        return "csv"
    raise ImportFormatError(
        f"Cannot tell the format of {Path(path).name!r} from its name: pass csv or jsonl."
    )


def count_records(path: str | Path, fmt: Format) -> int:
    """About how many records the file holds (newlines), read in binary chunks: for progress."""
    lines = 0
    last = b"\n"
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    if last != b"\n":
        lines += 1
    return max(0, lines - 1) if fmt == "csv" else lines


def _csv_text(handle: IO[bytes]) -> tuple[io.TextIOWrapper, str]:
    text = io.TextIOWrapper(handle, encoding="utf-8-sig", newline="")
    first = text.readline()
    delimiter = ";" if first.count(";") > first.count(",") else ","
    text.seek(0)
    return text, delimiter


def read_chunks(
    path: str | Path, *, kind: Kind, fmt: Format, chunk_rows: int = CHUNK_ROWS
) -> Iterator[RawChunk]:
    """Stream the file as chunks of raw rows; memory stays bounded by the chunk size.

    Raises ImportFormatError for a bad header, or for text that is not UTF-8.
    """
    with open(path, "rb") as handle:
        try:
            if fmt == "csv":
                yield from _csv_chunks(handle, kind, chunk_rows)
            else:
                yield from _jsonl_chunks(handle, kind, chunk_rows)
        except UnicodeDecodeError as exc:
            raise ImportFormatError(
                "The file is not UTF-8 text; save it as UTF-8 and import it again."
            ) from exc


def _csv_chunks(handle: IO[bytes], kind: Kind, chunk_rows: int) -> Iterator[RawChunk]:
    text, delimiter = _csv_text(handle)
    reader = csv.reader(text, delimiter=delimiter, strict=False)
    try:
        header = check_columns(kind, next(reader))
    except StopIteration:
        raise ImportFormatError("The file is empty: it needs a header row.") from None
    except csv.Error as exc:
        raise ImportFormatError(f"The header row is not valid CSV: {exc}.") from None
    items: list[tuple[int, Any]] = []
    last_line = reader.line_num
    while True:
        start = last_line + 1
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            values = [f"\x00{exc}"]
        last_line = reader.line_num
        if not values or values == [""]:
            continue
        items.append((start, values))
        if len(items) >= chunk_rows:
            yield kind, "csv", header, items
            items = []
    if items:
        yield kind, "csv", header, items


def _jsonl_chunks(handle: IO[bytes], kind: Kind, chunk_rows: int) -> Iterator[RawChunk]:
    items: list[tuple[int, Any]] = []
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        items.append((number, line.decode("utf-8")))
        if len(items) >= chunk_rows:
            yield kind, "jsonl", None, items
            items = []
    if items:
        yield kind, "jsonl", None, items


def validate_chunk(
    chunk: RawChunk, validator: RowValidator
) -> tuple[list[Record], list[RowError], int]:
    """Validate one chunk of raw rows: (records, row errors, rows seen). No database access."""
    kind, fmt, header, items = chunk
    known = set(CUSTOMER_COLUMNS if kind == "customers" else ORDER_COLUMNS)
    known |= JSONL_EXTRA_KEYS[kind]
    validate = validator.customer if kind == "customers" else validator.order
    records: list[Record] = []
    errors: list[RowError] = []
    for row, payload in items:
        raw: dict[str, Any]
        if fmt == "csv":
            assert header is not None
            if len(payload) == 1 and payload[0].startswith("\x00"):
                errors.append(RowError(row, "", f"Not valid CSV: {payload[0][1:]}."))
                continue
            if len(payload) != len(header):
                errors.append(
                    RowError(row, "", f"Expected {len(header)} fields, found {len(payload)}.")
                )
                continue
            raw = dict(zip(header, payload, strict=True))
        elif fmt == "objects":  # already decoded (demo data)
            raw = payload
        else:
            try:
                decoded = json.loads(payload)
            except ValueError as exc:
                errors.append(RowError(row, "", f"Not valid JSON: {exc}."))
                continue
            if not isinstance(decoded, dict):
                errors.append(RowError(row, "", "Each line must be a JSON object."))
                continue
            unknown = sorted(
                k
                for k in decoded
                if k not in known and not (kind == "customers" and k.startswith("attr."))
            )
            if unknown:
                errors.append(RowError(row, unknown[0], f"Unknown field(s): {', '.join(unknown)}."))
                continue
            raw = decoded
        outcome = validate(row, raw)
        if isinstance(outcome, list):
            errors.extend(outcome)
        else:
            records.append(outcome)
    return records, errors, len(items)


def validated_chunks(
    chunks: Iterable[RawChunk], specs: list[AttributeSpec], *, workers: int
) -> Iterator[tuple[list[Record], list[RowError], int]]:
    """Validate chunks in order, in `workers` processes (0: in this process).

    At most 2 chunks per worker are in flight, so a fast reader cannot fill memory while the
    database is the bottleneck.
    """
    if workers <= 0:
        validator = RowValidator(specs)
        for chunk in chunks:
            yield validate_chunk(chunk, validator)
        return
    import threading

    slots = threading.Semaphore(workers * 2)
    stopped = threading.Event()

    def throttled() -> Iterator[RawChunk]:
        for chunk in chunks:
            slots.acquire()
            if stopped.is_set():
                return
            yield chunk

    from ascolto.customers import importer_worker

    context = multiprocessing.get_context("spawn")
    with context.Pool(workers, initializer=importer_worker.init, initargs=(specs,)) as pool:
        try:
            for result in pool.imap(importer_worker.validate, throttled()):
                slots.release()
                yield result
        finally:
            # The consumer stopped early (a failed write): let the feeding thread return, or
            # closing the pool would wait for it forever.
            stopped.set()
            slots.release()


# -- errors -----------------------------------------------------------------------------------
class ErrorReport:
    """Row errors streamed to a file (CSV or JSON Lines), with a sample kept for the job page."""

    COLUMNS = ("row", "external_id", "field", "message")

    def __init__(self, path: Path | None, fmt: Format) -> None:
        self.path = path
        self.fmt = fmt
        self.count = 0
        self.failed_rows = 0
        self.sample: list[dict[str, Any]] = []
        self._handle: IO[str] | None = None
        self._writer: Any = None

    def add(self, errors: Sequence[RowError]) -> None:
        if not errors:
            return
        self.count += len(errors)
        self.failed_rows += len({e.row for e in errors})
        for error in errors:
            item = {
                "row": error.row,
                "external_id": error.external_id,
                "field": error.field,
                "message": error.message,
            }
            if len(self.sample) < SAMPLE_ERRORS:
                self.sample.append(item)
            self._write(item)

    def _write(self, item: dict[str, Any]) -> None:
        if self.path is None:
            return
        if self._handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = open(self.path, "w", encoding="utf-8", newline="")  # noqa: SIM115
            if self.fmt == "csv":
                self._writer = csv.DictWriter(self._handle, fieldnames=self.COLUMNS)
                self._writer.writeheader()
        if self.fmt == "csv":
            self._writer.writerow(item)
        else:
            self._handle.write(json.dumps(item, ensure_ascii=False) + "\n")

    def close(self) -> str | None:
        if self._handle is not None:
            self._handle.close()
            return str(self.path)
        return None


def error_file_path(job: Job, fmt: Format) -> Path:
    return Path(settings.DATA_DIR) / "imports" / f"job-{job.pk}-errors.{fmt}"


# -- writing ----------------------------------------------------------------------------------
class Batcher:
    """Groups records into batches whose external ids and identity handles are distinct.

    A record that repeats an external id or a handle already in the batch closes the batch
    first, so each batch can be written set-based with the result of writing rows one by one.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.records: list[Record] = []
        self._keys: set[str] = set()
        self._handles: set[tuple[str, str]] = set()

    def add(self, record: Record) -> list[Record] | None:
        """Add a record; returns the batch to write first when this record could not join it."""
        handles = record.identities if isinstance(record, CustomerRecord) else ()
        full: list[Record] | None = None
        if record.external_id in self._keys or any(h in self._handles for h in handles):
            full = self.take()
        self.records.append(record)
        self._keys.add(record.external_id)
        self._handles.update(handles)
        if full is None and len(self.records) >= self.size:
            full = self.take()
        return full

    def take(self) -> list[Record]:
        batch, self.records = self.records, []
        self._keys, self._handles = set(), set()
        return batch


def _write_batch(writer: SqlWriter, kind: Kind, batch: list[Record]) -> BatchOutcome:
    """Write one batch in one transaction. A concurrent writer taking the same handle between
    the checks and the insert, or a deadlock with one, is caught by a retry, which runs the
    checks again."""
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                if kind == "customers":
                    return writer.customers([r for r in batch if isinstance(r, CustomerRecord)])
                return writer.orders([r for r in batch if isinstance(r, OrderRecord)])
        except (IntegrityError, OperationalError) as exc:
            retry = isinstance(exc, IntegrityError) or _is_transient(exc)
            if attempt == WRITE_ATTEMPTS or not retry:
                raise
            logger.info("Import batch written again after %s", exc)
    raise AssertionError("unreachable")


def _is_transient(exc: OperationalError) -> bool:
    """A deadlock or a serialization failure: PostgreSQL aborted the transaction, a retry
    may succeed."""
    return getattr(exc.__cause__, "sqlstate", None) in {"40P01", "40001"}


def attribute_specs(workspace: Workspace) -> list[AttributeSpec]:
    return [AttributeSpec.of(d) for d in AttributeDefinition.objects.filter(workspace=workspace)]


def import_records(
    *,
    workspace: Workspace,
    kind: Kind,
    validated: Iterable[tuple[list[Record], list[RowError], int]],
    report: ErrorReport,
    progress: Progress | None = None,
    total: int = 0,
    job: Job | None = None,
    batch_size: int = BATCH_SIZE,
    writers: int = 1,
    large: bool = True,
) -> ImportResult:
    """Write validated chunks in batches and refresh order stats. The fast path shared by the
    file import and the demo data. Does not record the audit entry or the outbox event.

    With `writers` > 1 (PostgreSQL), batches are written on that many connections at once
    (`importer_parallel`); the workspace and everything the rows refer to must be committed.
    `large` (PostgreSQL): keep the planner's statistics current as the tables grow and look
    keys up by index, so that each batch costs in proportion to its size; a caller writing a
    few thousand rows at a time (the demo data) passes False and leaves statistics to
    autovacuum.
    """
    started = time.monotonic()
    result = ImportResult(kind=kind)
    writer = SqlWriter(workspace=workspace, job_id=job.pk if job else None, by_index=large)
    if not writer.postgres:
        writers = 1  # SQLite has one writer at a time
    writer.reset()
    # Every order this import writes gets an updated_at at or after this instant.
    since = writer.db_now()
    seen = 0
    # The planner's row counts are refreshed at the start and whenever the import has doubled
    # what it wrote since the last time (see SqlWriter._probe_by_index).
    writer.analyze(kind)
    analyze_at = ANALYZE_FIRST

    def done(outcome: BatchOutcome) -> None:
        nonlocal analyze_at
        if result.created + outcome.created >= analyze_at:
            writer.analyze(kind)
            analyze_at = 2 * (result.created + outcome.created)
        result.created += outcome.created
        result.updated += outcome.updated
        result.unchanged += outcome.unchanged
        report.add(sorted(outcome.errors, key=lambda e: e.row))
        if job is not None:
            job_progress(job=job, done=seen, total=max(total, seen))
        if progress is not None:
            progress(seen, max(total, seen))

    def write(batch: list[Record]) -> BatchOutcome:
        return _write_batch(writer, kind, batch)

    parallel: ParallelWriter | None = None
    try:
        touched: list[int] = []
        if writers > 1:
            parallel = ParallelWriter(
                writers=writers,
                make_batcher=lambda: Batcher(batch_size),
                write=write,
                done=done,
                writer=writer,
            )
            for records, errors, rows in validated:
                seen += rows
                report.add(errors)
                for record in records:
                    parallel.add(record)
            touched = parallel.finish()
            parallel = None
        else:
            batcher = Batcher(batch_size)
            for records, errors, rows in validated:
                seen += rows
                report.add(errors)
                for record in records:
                    full = batcher.add(record)
                    if full:
                        done(write(full))
            done(write(batcher.take()))
        if kind == "orders":
            result.stats_refreshed = refresh_touched_stats(writer, since=since, extra=touched)
    finally:
        if parallel is not None:
            parallel.close()
        writer.reset()
    result.rows = seen
    result.error_count = report.count
    result.failed_rows = report.failed_rows
    result.errors = report.sample
    result.seconds = time.monotonic() - started
    return result


def refresh_touched_stats(
    writer: SqlWriter, *, since: Any, extra: Sequence[int] = (), step: int = 50_000
) -> int:
    """Recompute the stats of every customer whose orders the import wrote, by id ranges."""
    count, low, high = writer.collect_touched(since, extra)
    changed = 0
    if not count:
        return 0
    for start in range(low, high + 1, step):
        with transaction.atomic():
            changed += writer.refresh_stats(start, min(high, start + step - 1))
    return changed


def import_file(
    *,
    workspace: Workspace,
    kind: Kind,
    path: str | Path,
    fmt: Format,
    actor: Actor,
    job: Job | None = None,
    progress: Progress | None = None,
    workers: int | None = None,
    writers: int | None = None,
    batch_size: int | None = None,
    total: int | None = None,
    error_path: Path | None = None,
) -> ImportResult:
    """Import one file, then record one audit entry and one outbox event for the whole import.

    Raises ImportFormatError when the file cannot be read as the given format.
    """
    if kind not in KINDS:
        raise ImportFormatError(f"Unknown import kind {kind!r}: use customers or orders.")
    size = os.path.getsize(path)
    if batch_size is None:
        batch_size = BATCH_SIZE if connection.vendor == "postgresql" else SQLITE_BATCH_SIZE
    if workers is None:
        workers = min(2, os.cpu_count() or 1) if size >= PARALLEL_MIN_BYTES else 0
    if writers is None:
        writers = WRITERS if size >= PARALLEL_MIN_BYTES else 1
    if total is None:
        total = count_records(path, fmt)
    report = ErrorReport(error_path, fmt)
    try:
        chunks = read_chunks(path, kind=kind, fmt=fmt)
        validated = validated_chunks(chunks, attribute_specs(workspace), workers=workers)
        result = import_records(
            workspace=workspace,
            kind=kind,
            validated=validated,
            report=report,
            progress=progress,
            total=total,
            job=job,
            batch_size=batch_size,
            writers=writers,
        )
    finally:
        result_file = report.close()
    result.error_file = result_file
    with transaction.atomic():
        audit_record(
            workspace=workspace,
            actor=actor,
            action=f"{kind}.import",
            object_type="job",
            object_id=job.pk if job else "-",
            changes={k: v for k, v in result.as_dict().items() if k != "errors"}
            | {"file": Path(path).name},
        )
        outbox.emit(
            workspace=workspace,
            name="customers.import.completed",
            payload={
                "job_id": job.pk if job else None,
                "kind": kind,
                "rows": result.rows,
                "created": result.created,
                "updated": result.updated,
                "failed_rows": result.failed_rows,
            },
        )
        if job is not None:
            job_progress(job=job, done=result.rows, total=result.rows)
            job_finish(job=job, result=result.as_dict())
    return result


# -- jobs -------------------------------------------------------------------------------------
def import_job_create(
    *,
    workspace: Workspace,
    kind: Kind,
    path: str | Path,
    fmt: Format,
    created_by_id: int | None = None,
    original_name: str = "",
    delete_source: bool = False,
) -> Job:
    """A queued import Job; run it with `run_import_job` (the Huey task does, for uploads)."""
    return job_create(
        workspace=workspace,
        kind=JOB_KINDS[kind],
        params={
            "kind": kind,
            "path": str(path),
            "format": fmt,
            "original_name": original_name or Path(path).name,
            "delete_source": delete_source,
        },
        created_by_id=created_by_id,
    )


def run_import_job(
    job_id: int,
    *,
    progress: Progress | None = None,
    workers: int | None = None,
    writers: int | None = None,
) -> Job:
    """Run a queued import job to the end. Idempotent: a job that already ran is left alone.

    A file that cannot be read fails the job with a message saying what to fix; rows already
    written by earlier batches stay (importing the fixed file again updates them).
    """
    job = Job.objects.select_related("workspace", "created_by").get(pk=job_id)
    if job.status != Job.Status.QUEUED:
        return job
    params = job.params
    kind: Kind = params["kind"]
    fmt: Format = params["format"]
    path = Path(params["path"])
    actor = Actor.for_user(job.created_by) if job.created_by is not None else Actor.system("import")
    try:
        total = count_records(path, fmt)
        job_start(job=job, total=total)
        import_file(
            workspace=job.workspace,
            kind=kind,
            path=path,
            fmt=fmt,
            actor=actor,
            job=job,
            progress=progress,
            workers=workers,
            writers=writers,
            total=total,
            error_path=error_file_path(job, fmt),
        )
    except (ImportFormatError, OSError) as exc:
        message = str(exc) if isinstance(exc, ImportFormatError) else f"Cannot read the file: {exc}"
        job_fail(job=job, error=message)
    except Exception as exc:
        logger.exception("Import job %s failed", job.pk)
        job_fail(job=job, error=f"The import stopped: {exc}")
    finally:
        if params.get("delete_source"):
            path.unlink(missing_ok=True)
    job.refresh_from_db()
    return job
