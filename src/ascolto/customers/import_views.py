"""Upload a CSV / JSON Lines file of customers or orders; the import runs as a Job."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse


@login_required
def import_upload(request: HttpRequest) -> HttpResponse:
    raise NotImplementedError
