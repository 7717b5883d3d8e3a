"""Customer list and Customer 360 page."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse


@login_required
def customer_list(request: HttpRequest) -> HttpResponse:
    raise NotImplementedError


@login_required
def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    raise NotImplementedError


@login_required
def customer_timeline(request: HttpRequest, pk: int) -> HttpResponse:
    raise NotImplementedError


@login_required
def customer_audit(request: HttpRequest, pk: int) -> HttpResponse:
    raise NotImplementedError
