"""Shell views: home, health, language and workspace switch, jobs, audit log."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return redirect("customers:list")


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@login_required
def set_language(request: HttpRequest) -> HttpResponse:
    raise NotImplementedError


@login_required
def switch_workspace(request: HttpRequest) -> HttpResponse:
    raise NotImplementedError


@login_required
def job_list(request: HttpRequest) -> HttpResponse:
    raise NotImplementedError


@login_required
def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    raise NotImplementedError


@login_required
def audit_log(request: HttpRequest) -> HttpResponse:
    raise NotImplementedError
