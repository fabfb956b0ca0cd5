"""Build the FastAPI app: routers, error handlers, OpenAPI description."""

from __future__ import annotations

from fastapi import FastAPI

from lambda_app.config import Settings, get_settings
from lambda_app.problems import add_problem_handlers
from lambda_app.routers import health, users

API_VERSION = "1.0.0"


def create_app(settings: Settings | None = None) -> FastAPI:
    """Return the users service app configured by `settings`."""
    settings = settings or get_settings()
    app = FastAPI(
        title="Users service",
        version=API_VERSION,
        summary="Users and their files, on AWS Lambda.",
        root_path=settings.api_base_path.rstrip("/"),
    )
    add_problem_handlers(app)
    app.include_router(health.router)
    app.include_router(users.router)
    return app
