"""Print the OpenAPI description the app serves, as `make client` generates clients from it."""

from __future__ import annotations

import json
from typing import Any

from lambda_app.main import create_app


def served_openapi() -> dict[str, Any]:
    """The app's OpenAPI description, as GET /openapi.json returns it."""
    return create_app().openapi()


if __name__ == "__main__":
    print(json.dumps(served_openapi(), indent=2))
