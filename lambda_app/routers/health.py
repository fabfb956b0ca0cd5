"""The health check: is the database answering?"""

from __future__ import annotations

import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from lambda_app.db import execute_first, get_engine
from lambda_app.exceptions import DatabaseUnavailableError
from lambda_app.schemas.health import HealthStatus

logger = logging.getLogger(__name__)
router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=HealthStatus,
    summary="Check the database connection",
    responses={503: {"model": HealthStatus, "description": "The database is not answering"}},
)
async def health() -> HealthStatus | JSONResponse:
    """Answer `ok` after a real `SELECT 1`, or 503 `unavailable`."""
    try:
        with get_engine().connect() as connection:
            execute_first(connection, text("SELECT 1"))
    except (SQLAlchemyError, DatabaseUnavailableError) as error:
        logger.warning("Health check failed: %s", type(error).__name__)
        return JSONResponse({"status": "unavailable"}, status_code=503)
    return HealthStatus(status="ok")
