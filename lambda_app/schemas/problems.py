"""RFC 9457 problem details, the body of every error response."""

from __future__ import annotations

from pydantic import BaseModel, Field


class FieldError(BaseModel):
    """One invalid input: where it is and what is wrong with it."""

    field: str = Field(description="Dotted location, e.g. `body.email` or `query.limit`.")
    message: str


class Problem(BaseModel):
    """An `application/problem+json` error body."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = Field(
        default=None, description="Present on 422: every invalid field."
    )
