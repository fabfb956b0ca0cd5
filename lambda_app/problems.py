"""Every error becomes an `application/problem+json` response, in one place."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterable, Mapping
from functools import cache
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException

from lambda_app.db import is_conflict, is_dead_connection, server_error_field
from lambda_app.exceptions import (
    ConcurrentChangeError,
    DatabaseTimeoutError,
    DatabaseUnavailableError,
    ServiceError,
)
from lambda_app.schemas.problems import FieldError, Problem

logger = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
# A statement canceled by statement_timeout: the server is too slow, not the request wrong.
QUERY_CANCELED_SQLSTATE = "57014"
# Fields of PostgreSQL's error that name things, never hold row data (unlike DETAIL or, for
# some errors, the message): SQLSTATE, schema, table, column, constraint, routine.
LOGGED_ERROR_FIELDS = {
    "C": "sqlstate",
    "s": "schema",
    "t": "table",
    "c": "column",
    "n": "constraint",
    "R": "routine",
}


# RFC 9110's reason phrases, fixed here so that every Python answers alike: 3.13 renamed
# some of http.HTTPStatus's (413 and 422 among them).
STATUS_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    412: "Precondition Failed",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


def status_title(status: int) -> str:
    """The reason phrase of `status`, the same on every Python version."""
    return STATUS_TITLES.get(status) or HTTPStatus(status).phrase


class ProblemResponse(JSONResponse):
    """A JSON response with the problem media type."""

    media_type = PROBLEM_MEDIA_TYPE


def problem_response(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    errors: list[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
) -> ProblemResponse:
    """Build the problem response for `status`."""
    problem = Problem(
        title=title or status_title(status), status=status, detail=detail, errors=errors
    )
    return ProblemResponse(
        problem.model_dump(exclude_none=True), status_code=status, headers=headers
    )


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Describe problem responses in OpenAPI for `responses=` of a route."""
    schema = _problem_schema()
    return {
        status: {
            "description": status_title(status),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": schema}},
        }
        for status in statuses
    }


@cache
def _problem_schema() -> dict[str, Any]:
    """`Problem`'s JSON schema, made once: every route's decorator asks for it at import."""
    return Problem.model_json_schema()


def is_database_unavailable(error: BaseException) -> bool:
    """Tell whether a database error means the server is unreachable or gone."""
    if isinstance(error, PoolTimeoutError):
        return True
    return isinstance(error, DBAPIError) and is_dead_connection(error)


def is_statement_timeout(error: BaseException) -> bool:
    """Tell whether the server canceled a statement that ran too long."""
    return (
        isinstance(error, DBAPIError) and server_error_field(error, "C") == QUERY_CANCELED_SQLSTATE
    )


def field_errors(raw_errors: Iterable[Any]) -> list[FieldError]:
    """Flatten pydantic's validation errors into (field, message) pairs."""
    return [
        FieldError(field=".".join(str(part) for part in error["loc"]), message=error["msg"])
        for error in raw_errors
    ]


async def _validation_error(_request: Request, error: Exception) -> ProblemResponse:
    assert isinstance(error, RequestValidationError)
    errors = field_errors(error.errors())
    return problem_response(422, "The request is not valid; see `errors`.", errors=errors)


async def _http_error(_request: Request, error: Exception) -> ProblemResponse:
    assert isinstance(error, HTTPException)
    detail = error.detail if isinstance(error.detail, str) else status_title(error.status_code)
    return problem_response(error.status_code, detail, headers=error.headers)


async def _service_error(_request: Request, error: Exception) -> ProblemResponse:
    assert isinstance(error, ServiceError)
    if error.status >= 500:
        logger.warning("%s: %s", error.title, error.detail, exc_info=error.__cause__)
    return problem_response(error.status, error.detail, title=error.title, headers=error.headers)


async def _database_error(request: Request, error: Exception) -> ProblemResponse:
    known: ServiceError | None = None
    if is_database_unavailable(error):
        known = DatabaseUnavailableError("The database is not answering; try again.")
    elif isinstance(error, DBAPIError) and is_conflict(error):
        known = ConcurrentChangeError(
            "Concurrent changes kept conflicting with this one; try again."
        )
    elif is_statement_timeout(error):
        known = DatabaseTimeoutError(
            "The database did not answer in time; try again, or ask for less at once."
        )
    if known is None:
        return await _unexpected_error(request, error)
    known.__cause__ = error
    return await _service_error(request, known)


async def _unexpected_error(request: Request, error: Exception) -> ProblemResponse:
    log_unexpected_error(request.method, request.url.path, error)
    return internal_error_response()


def log_unexpected_error(method: str, path: str, error: BaseException) -> None:
    """Log an error the service did not expect, once, with its traceback.

    A database error is logged by its naming fields and stack only: its text may quote a
    row ("Failing row contains ..."), and rows hold personal data.
    """
    if isinstance(error, DBAPIError):
        named = {
            name: value
            for code, name in LOGGED_ERROR_FIELDS.items()
            if (value := server_error_field(error, code)) is not None
        }
        stack = "".join(traceback.format_tb(error.__traceback__))
        logger.error(
            "Unhandled database error %s on %s %s: %s\n%s",
            type(error.orig).__name__,
            method,
            path,
            named,
            stack,
        )
        return
    logger.error("Unhandled error on %s %s", method, path, exc_info=error)


def internal_error_response() -> ProblemResponse:
    """The 500 answer: no exception text, no traceback."""
    return problem_response(500, "The service failed to answer; the error has been logged.")


def add_problem_handlers(app: FastAPI) -> None:
    """Register the handlers that turn every error into problem+json."""
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(SQLAlchemyError, _database_error)
    # Anything else is caught, logged and answered by the request log middleware, which
    # still knows the request id.
