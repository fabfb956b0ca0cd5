"""Send what the app prints (its JSON logs and metrics) to a file while the bench runs."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO


@contextmanager
def app_output_to(log_file: Path) -> Iterator[TextIO]:
    """Point file descriptors 1 and 2 at `log_file`; yield a stream to the real terminal.

    The app's log handlers hold `sys.stdout` itself, so only redirecting the descriptors
    catches them. Writing to a file costs the app about what Lambda's log pipe does.
    """
    log_file.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved_out, saved_err = os.dup(1), os.dup(2)
    target = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    console = os.fdopen(os.dup(saved_out), "w", buffering=1)
    try:
        os.dup2(target, 1)
        os.dup2(target, 2)
        yield console
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved_out, 1)
        os.dup2(saved_err, 2)
        for descriptor in (target, saved_out, saved_err):
            os.close(descriptor)
        console.close()
