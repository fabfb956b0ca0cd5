"""Body of the health check."""

from typing import Literal

from pydantic import BaseModel


class HealthStatus(BaseModel):
    """`ok` after a real query, `unavailable` when the database does not answer."""

    status: Literal["ok", "unavailable"]
