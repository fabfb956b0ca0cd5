"""The generated client is imported from its folder, as a user would install it."""

from __future__ import annotations

import sys
from pathlib import Path

GENERATED_CLIENT = Path(__file__).resolve().parents[2] / "clients" / "python"
sys.path.insert(0, str(GENERATED_CLIENT))
