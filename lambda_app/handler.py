"""The Lambda entry point: API Gateway events through Mangum into the FastAPI app."""

from __future__ import annotations

import gc

# Init builds some 140,000 objects that live as long as the container (FastAPI's routes and
# models, SQLAlchemy, pydantic's validators): collecting while they are built walks them
# again and again, and every full collection after init would walk them once more. So no
# collection runs during init, and its objects are frozen out of later ones at its end
# (the gc.disable / gc.freeze pattern of Python's `gc` documentation).
gc.disable()

from typing import Any, cast  # noqa: E402

from mangum import Mangum  # noqa: E402
from mangum.types import ASGI  # noqa: E402

from lambda_app import snapstart  # noqa: E402
from lambda_app.config import get_settings  # noqa: E402
from lambda_app.external_services import tracing  # noqa: E402
from lambda_app.main import create_app, serve_under  # noqa: E402
from lambda_app.middleware.request_log import COLD_START  # noqa: E402
from lambda_app.utils.json_logs import configure_logging  # noqa: E402

# Per-container setup: runs once at init (and before a SnapStart snapshot), not per request.
settings = get_settings()
configure_logging(settings.log_level)
app = create_app()
# Mangum keeps the stage prefix in the path; the app strips it as its root path, which
# also makes /docs point at {stage}/openapi.json.
asgi_handler = Mangum(
    cast(ASGI, serve_under(tracing.trace_requests(app), settings.api_base_path)),
    lifespan="off",
    # Mangum's defaults miss the JSON family ("+json": application/problem+json), whose
    # bodies would leave base64-encoded, unreadable through a REST API without binary types.
    text_mime_types=[
        "text/",
        "application/json",
        "+json",
        "application/javascript",
        "application/xml",
    ],
)
snapstart.warm_up()
snapstart.register_hooks()
gc.freeze()
gc.enable()
_first_invocation = True


def serve(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Serve one API Gateway event; the first one in a container is flagged as a cold start."""
    global _first_invocation
    cold_start, _first_invocation = _first_invocation, False
    token = COLD_START.set(cold_start)
    try:
        return asgi_handler(event, context)
    finally:
        COLD_START.reset(token)


# The Lambda entry point: `serve` itself unless TRACING is on.
handler = tracing.trace_handler(serve)
