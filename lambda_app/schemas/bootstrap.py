"""The migration function's `bootstrap-admin` request."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from lambda_app.models.tables import SUBJECT_MAX_LENGTH
from lambda_app.schemas.users import Email

Subject = Annotated[str, StringConstraints(min_length=1, max_length=SUBJECT_MAX_LENGTH)]


class AdminBootstrap(BaseModel):
    """Who becomes the first admin: their email and their identity's `sub`."""

    model_config = ConfigDict(extra="forbid")

    email: Email
    subject: Subject
