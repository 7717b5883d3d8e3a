"""Kernel pieces of the REST API: authentication, problem details, request context, pagination.

Every error the API returns is one shape, RFC 9457 problem details (`application/problem+json`):
`type`, `title`, `status`, `detail`, `instance`, plus `code` (stable, machine-readable) and
`errors` (field-level messages, `{"field.path": ["message", ...]}`, empty when none apply).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar, cast

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.utils.translation import gettext_lazy as _
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser
from ninja.security import APIKeyCookie, HttpBearer
from ninja.types import DictStrAny
from ninja.utils import check_csrf
from pydantic import AfterValidator, AwareDatetime, Field
from pydantic import ValidationError as PydanticValidationError

from ascolto.accounts.models import ApiToken, User
from ascolto.accounts.selectors import has_permission
from ascolto.accounts.services import api_token_authenticate
from ascolto.core.actors import Actor
from ascolto.core.errors import DomainError, Forbidden
from ascolto.core.models import Workspace

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:ascolto:problem:"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})

# The stable `code` of each problem and the title people read. Codes never change meaning.
PROBLEM_TITLES: dict[str, Any] = {
    "bad_request": _("Bad request"),
    "malformed_json": _("Malformed JSON"),
    "not_authenticated": _("Authentication required"),
    "permission_denied": _("Permission denied"),
    "csrf_failed": _("CSRF check failed"),
    "forbidden": _("Forbidden"),
    "not_found": _("Not found"),
    "method_not_allowed": _("Method not allowed"),
    "conflict": _("Conflict"),
    "payload_too_large": _("Request body too large"),
    "unsupported_media_type": _("Unsupported media type"),
    "invalid": _("Invalid request"),
    "validation_failed": _("Validation failed"),
    "too_many_requests": _("Too many requests"),
    "internal_error": _("Internal server error"),
}
CODE_FOR_STATUS = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "too_many_requests",
}


# --- Problem documents ----------------------------------------------------------------------


class ProblemOut(Schema):
    """RFC 9457 problem details, as every API error is returned."""

    type: str = Field(examples=["urn:ascolto:problem:validation_failed"])
    title: str = Field(examples=["Validation failed"])
    status: int = Field(examples=[422])
    detail: str = Field(examples=["The customer is not valid."])
    instance: str = Field(examples=["/api/v1/customers"])
    code: str = Field(examples=["validation_failed"])
    errors: dict[str, list[str]] = Field(
        default_factory=dict, examples=[{"timezone": ["Unknown time zone."]}]
    )


def problem_response(
    request: HttpRequest,
    *,
    status: int,
    detail: Any,
    code: str | None = None,
    errors: Mapping[str, Sequence[Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> HttpResponse:
    """An `application/problem+json` response; `code` defaults to the one of the status."""
    code = code or CODE_FOR_STATUS.get(status, "internal_error" if status >= 500 else "invalid")
    body = {
        "type": PROBLEM_TYPE_PREFIX + code,
        "title": PROBLEM_TITLES.get(code, PROBLEM_TITLES["invalid"]),
        "status": status,
        "detail": detail,
        "instance": request.path,
        "code": code,
        "errors": {str(k): [str(m) for m in v] for k, v in (errors or {}).items()},
    }
    response = HttpResponse(
        json.dumps(body, cls=DjangoJSONEncoder, ensure_ascii=False),
        status=status,
        content_type=PROBLEM_CONTENT_TYPE,
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def is_problem(response: HttpResponseBase) -> bool:
    return str(response.get("Content-Type", "")).startswith(PROBLEM_CONTENT_TYPE)


def field_errors_from_pydantic(
    errors: Sequence[Mapping[str, Any]], *, ninja: bool = True, whole: str = "body"
) -> dict[str, list[str]]:
    """`{"a.b.0": ["message"]}` from pydantic (or ninja) error dicts.

    Ninja locations start with the source ("body", "query", "path") and, for bodies, the
    parameter name; clients know neither, so those are dropped. An error about the whole
    input is reported under `whole`.
    """
    out: dict[str, list[str]] = {}
    for error in errors:
        loc = [str(part) for part in error.get("loc", ())]
        if ninja and loc:
            loc = loc[2:] if loc[0] == "body" else loc[1:]
        path = ".".join(loc) or whole
        out.setdefault(path, []).append(str(error.get("msg", "Invalid value.")))
    return out


# --- Exceptions the API raises itself -------------------------------------------------------


class UnsupportedMediaType(Exception):
    def __init__(self, content_type: str) -> None:
        super().__init__(content_type)
        self.content_type = content_type


class AuthenticationFailed(AuthenticationError):
    def __init__(self, message: str) -> None:
        super().__init__(401, message)


class CsrfFailed(HttpError):
    def __init__(self) -> None:
        super().__init__(403, str(_("CSRF check failed: send the X-CSRFToken header.")))


# --- Parsing --------------------------------------------------------------------------------


class JsonParser(Parser):
    """Ninja's parser, refusing bodies that do not declare JSON (with 415)."""

    def parse_body(self, request: HttpRequest) -> DictStrAny:
        content_type = (request.content_type or "").lower()
        if content_type != "application/json" and not content_type.endswith("+json"):
            raise UnsupportedMediaType(content_type)
        return super().parse_body(request)


# --- Authentication and the request context -------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Who is calling and in which workspace. Set by the auth classes as `request.auth`."""

    user: User
    workspace: Workspace
    actor: Actor
    token: ApiToken | None = None

    @property
    def method(self) -> str:
        return "token" if self.token is not None else "session"


class ApiTokenAuth(HttpBearer):
    """`Authorization: Bearer asc_...`: a per-user token scoped to one workspace."""

    def authenticate(self, request: HttpRequest, token: str) -> RequestContext | None:
        api_token = api_token_authenticate(token.strip())
        if api_token is None:
            # A token that was sent but is wrong never falls back to the session.
            raise AuthenticationFailed(str(_("The API token is not valid or was revoked.")))
        return RequestContext(
            user=api_token.user,
            workspace=api_token.workspace,
            actor=Actor.for_user(api_token.user, token_id=api_token.pk),
            token=api_token,
        )


class SessionCookieAuth(APIKeyCookie):
    """The browser session of the UI; unsafe methods need the CSRF token (X-CSRFToken)."""

    param_name = settings.SESSION_COOKIE_NAME

    def __init__(self) -> None:
        # CSRF is checked below, and only for signed-in users: a client without a session
        # gets 401, not a CSRF error.
        super().__init__(csrf=False)

    def authenticate(self, request: HttpRequest, key: str | None) -> RequestContext | None:
        user = request.user
        if not user.is_authenticated or not isinstance(user, User):
            return None
        if request.method not in SAFE_METHODS and check_csrf(request) is not None:
            raise CsrfFailed
        lazy = getattr(request, "workspace", None)
        if not isinstance(lazy, Workspace):
            raise Forbidden(str(_("You are not a member of any workspace.")))
        # The middleware's lazy object, evaluated by isinstance above: hand on the instance.
        workspace: Workspace = getattr(lazy, "_wrapped", lazy)
        return RequestContext(user=user, workspace=workspace, actor=Actor.for_user(user))


api_auth = [ApiTokenAuth(), SessionCookieAuth()]


def require(request: HttpRequest, permission: str = "read") -> RequestContext:
    """The caller's context, if their role in the workspace grants `permission`; else 403.

    Permissions: "read" (every role), "write" (agents and up), "admin" (admins, owners).
    """
    context = getattr(request, "auth", None)
    if not isinstance(context, RequestContext):
        raise AuthenticationError
    if not has_permission(user=context.user, workspace=context.workspace, permission=permission):
        raise Forbidden(
            str(_("Your role in this workspace does not allow this (needs “%(permission)s”)."))
            % {"permission": permission}
        )
    return context


# --- Exception handlers ---------------------------------------------------------------------


def _domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    return problem_response(
        request, status=exc.status, code=exc.code, detail=exc.message, errors=exc.field_errors
    )


def _validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    return problem_response(
        request,
        status=422,
        detail=_("The request is not valid; see `errors` for the fields to fix."),
        errors=field_errors_from_pydantic(exc.errors),
    )


def _too_big(request: HttpRequest) -> HttpResponse:
    return problem_response(
        request,
        status=413,
        detail=_("The request body is larger than %(limit)d bytes; send smaller batches.")
        % {"limit": settings.DATA_UPLOAD_MAX_MEMORY_SIZE},
    )


def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    cause = exc.__cause__
    # Ninja wraps every failure to read the body in a 400; tell the client what it was.
    if isinstance(cause, RequestDataTooBig):
        return _too_big(request)
    if isinstance(cause, UnsupportedMediaType):
        return problem_response(
            request,
            status=415,
            detail=_("Send the body as JSON with `Content-Type: application/json`."),
        )
    if isinstance(cause, UnicodeDecodeError):
        return problem_response(
            request,
            status=400,
            code="malformed_json",
            detail=_("The request body is not valid UTF-8."),
        )
    if isinstance(cause, json.JSONDecodeError):
        return problem_response(
            request,
            status=400,
            code="malformed_json",
            detail=_("The request body is not valid JSON: %(error)s.") % {"error": cause},
        )
    headers = {"WWW-Authenticate": 'Bearer realm="ascolto"'} if exc.status_code == 401 else None
    code = "csrf_failed" if isinstance(exc, CsrfFailed) else None
    detail = str(exc)
    if isinstance(exc, AuthenticationError) and not isinstance(exc, AuthenticationFailed):
        detail = str(
            _("Authentication required: send `Authorization: Bearer <API token>` or sign in.")
        )
    return problem_response(
        request, status=exc.status_code, code=code, detail=detail, headers=headers
    )


def _not_found(request: HttpRequest, exc: Exception) -> HttpResponse:
    return problem_response(request, status=404, detail=_("Not found."))


def _integrity_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.warning("Integrity error on %s %s: %s", request.method, request.path, exc)
    return problem_response(
        request,
        status=409,
        detail=_("The change conflicts with existing data, probably a concurrent request; retry."),
    )


def _overflow(request: HttpRequest, exc: Exception) -> HttpResponse:
    # A number or date past what the database holds (e.g. in a hand-made cursor).
    return problem_response(
        request, status=422, detail=_("A number or date in the request is out of range.")
    )


def _unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("Unhandled error on %s %s", request.method, request.path, exc_info=exc)
    return problem_response(
        request, status=500, detail=_("An unexpected error occurred; it has been logged.")
    )


def _too_big_handler(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return _too_big(request)


def install_problem_handlers(api: NinjaAPI) -> None:
    """Map every exception an operation can raise to a problem document."""
    handlers: list[tuple[type[Exception], Callable[[HttpRequest, Any], HttpResponse]]] = [
        (Exception, _unexpected),
        (DomainError, _domain_error),
        (ValidationError, _validation_error),
        (HttpError, _http_error),
        (Http404, _not_found),
        (RequestDataTooBig, _too_big_handler),
        (IntegrityError, _integrity_error),
        (OverflowError, _overflow),
    ]
    for exc_class, handler in handlers:
        # Ninja types handlers loosely (exception or exception class); ours take instances.
        api.add_exception_handler(exc_class, cast(Any, handler))


# --- The boundary around every API URL ------------------------------------------------------

ViewFunc = Callable[..., HttpResponseBase]


def _body_guard(request: HttpRequest) -> HttpResponse | None:
    """Refuse bodies past DATA_UPLOAD_MAX_MEMORY_SIZE before anything reads them.

    Django checks Content-Length only; a chunked body (no Content-Length, ASGI) would be read
    whole, so it is read here with a limit.
    """
    if request.method not in BODY_METHODS:
        return None
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if limit is None:
        return None
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return problem_response(request, status=400, detail=_("Content-Length is not a number."))
    if declared > limit:
        return _too_big(request)
    if not declared and hasattr(request, "_stream") and not hasattr(request, "_body"):
        data = request.read(limit + 1)
        if len(data) > limit:
            return _too_big(request)
        request._body = data
    return None


def problem_boundary(view: ViewFunc) -> ViewFunc:
    """Wrap an API URL's view: size guard before it runs, 405s turned into problems after."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        early = _body_guard(request)
        if early is not None:
            return early
        response = view(request, *args, **kwargs)
        if response.status_code == 405 and not is_problem(response):
            allowed = str(response.get("Allow", ""))
            return problem_response(
                request,
                status=405,
                detail=_("%(method)s is not allowed here; allowed: %(allowed)s.")
                % {"method": request.method, "allowed": allowed},
                headers={"Allow": allowed},
            )
        return response

    return wrapped


def unknown_endpoint(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    if request.path.endswith("/"):
        detail = _("There is no API operation at this path (API paths end without a slash).")
    else:
        detail = _("There is no API operation at this path.")
    return problem_response(request, status=404, detail=detail)


# --- Input types ----------------------------------------------------------------------------

MAX_ID = 2**63 - 1


def no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL; refuse it up front rather than fail at the database.
    if "\x00" in value:
        raise ValueError("Must not contain NUL (\\u0000) characters.")
    return value


def _storable_json(value: Any) -> Any:
    """Refuse what a JSON column cannot store: NUL in strings, NaN and infinities."""
    if isinstance(value, str):
        no_nul(value)
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError("Numbers must be finite (no NaN or Infinity).")
    elif isinstance(value, dict):
        for key, item in value.items():
            no_nul(str(key))
            _storable_json(item)
    elif isinstance(value, list):
        for item in value:
            _storable_json(item)
    return value


def _storable_datetime(value: dt.datetime) -> dt.datetime:
    """In UTC, as stored; a time that has no UTC equivalent in range is refused."""
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:
        raise ValueError("Date out of range.") from None


# A database id: positive and within a 64-bit integer, so no database overflows on it.
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Text = Annotated[str, AfterValidator(no_nul)]
JsonObject = Annotated[dict[str, Any], AfterValidator(_storable_json)]
# A date and time with its offset (ISO 8601), kept in UTC.
Timestamp = Annotated[AwareDatetime, AfterValidator(_storable_datetime)]


# --- Pagination -----------------------------------------------------------------------------

ItemT = TypeVar("ItemT")


class PageOut(Schema, Generic[ItemT]):
    """One page of a keyset-paginated list; pass `next` back as `cursor` for the next page."""

    items: list[ItemT]
    next: str | None = Field(
        description="Cursor of the next page, or null on the last page.", default=None
    )


def page_out(items: Sequence[Any], next_cursor: str | None) -> dict[str, Any]:
    return {"items": list(items), "next": next_cursor}


Cursor = Annotated[str, Field(max_length=500), AfterValidator(no_nul)]
SearchTerm = Annotated[str, Field(max_length=200), AfterValidator(no_nul)]
Limit = Annotated[int, Field(ge=1, le=200)]


# --- Bulk -----------------------------------------------------------------------------------

ModelT = TypeVar("ModelT", bound=Schema)


@dataclass
class ItemError:
    index: int
    detail: str
    errors: dict[str, list[str]]


def validate_items(
    items: Sequence[Any], model: type[ModelT]
) -> tuple[list[tuple[int, ModelT]], list[ItemError]]:
    """Validate each raw item on its own: ([(index, item)], [errors of the invalid ones])."""
    valid: list[tuple[int, ModelT]] = []
    invalid: list[ItemError] = []
    for index, raw in enumerate(items):
        try:
            valid.append((index, model.model_validate(raw)))
        except PydanticValidationError as exc:
            invalid.append(
                ItemError(
                    index=index,
                    detail=str(_("The item is not valid; see `errors`.")),
                    errors=field_errors_from_pydantic(
                        exc.errors(include_url=False), ninja=False, whole="item"
                    ),
                )
            )
    return valid, invalid
