"""Run the smoke steps in order, print a verdict per step, always clean up."""

from __future__ import annotations

import argparse
import os
import re
import uuid
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx

from local.smoke.steps import STEPS, SmokeRun, StepFailedError, clean_up, tiny_png

DEFAULT_TIMEOUT = 10.0
_JWT = re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]*")
_SIGNED_PARAMS = re.compile(
    r"(?i)(x-amz-signature|x-amz-credential|x-amz-security-token|signature|policy)=[^&\s\"']+"
)


def redact(text: str, token: str) -> str:
    """Mask the token, any JWT and the signed parts of presigned URLs and forms."""
    if token:
        text = text.replace(token, "<token>")
    text = _JWT.sub("<jwt>", text)
    return _SIGNED_PARAMS.sub(r"\1=***", text)


def run_smoke(
    url: str,
    token: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    storage: httpx.Client | None = None,
    out: Callable[[str], None] = print,
) -> bool:
    """Run every step against `url` as the admin of `token`, then clean up; True if all passed."""
    run_id = uuid.uuid4().hex[:12]
    limits = httpx.Timeout(timeout, connect=min(timeout, 5.0))
    verdicts: list[str] = []

    def attempt(name: str, step: Callable[[SmokeRun], str], run: SmokeRun) -> None:
        try:
            verdict, reason = "PASS", step(run)
        except StepFailedError as failure:
            verdict, reason = "FAIL", str(failure)
        except httpx.TimeoutException as error:
            verdict, reason = "FAIL", f"no answer within {timeout:g} s ({type(error).__name__})"
        # Any other surprise is this step's failure too, and cleanup must still run.
        except Exception as error:
            verdict, reason = "FAIL", f"{type(error).__name__}: {error}"
        verdicts.append(verdict)
        out(redact(f"{verdict}  {name:<10}{reason}", token))

    base_url = url.rstrip("/")
    out(redact(f"Smoke test of {base_url}, run {run_id}", token))
    with (
        httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=limits
        ) as api,
        storage or httpx.Client(timeout=limits) as s3,
    ):
        run = SmokeRun(
            api=api,
            storage=s3,
            run_id=run_id,
            email=f"smoke-{run_id}@example.com",
            png=tiny_png(bytes.fromhex(run_id[:6])),
        )
        try:
            for name, step in STEPS:
                if "FAIL" in verdicts:
                    verdicts.append("SKIP")
                    out(f"SKIP  {name:<10}after a failure")
                else:
                    attempt(name, step, run)
        finally:
            attempt("cleanup", clean_up, run)
    counts = {verdict: verdicts.count(verdict) for verdict in ("PASS", "FAIL", "SKIP")}
    passed = counts["FAIL"] == 0
    out(
        f"{'passed' if passed else 'FAILED'}: {counts['PASS']} passed, "
        f"{counts['FAIL']} failed, {counts['SKIP']} skipped"
    )
    return passed


def main(argv: list[str] | None = None) -> int:
    """Run the smoke test against --url with TOKEN from the environment; 1 on any failure."""
    parser = argparse.ArgumentParser(
        prog="python -m local.smoke",
        description="Check a deployed API end to end as an admin (TOKEN), then clean up.",
    )
    parser.add_argument("--url", required=True, help="the API's base URL (the stack's output)")
    parser.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per request"
    )
    args = parser.parse_args(argv)
    token = os.environ.get("TOKEN", "").strip()
    if not token:
        parser.error("set TOKEN to an admin's bearer token: make smoke URL=... TOKEN=...")
    if urlsplit(args.url).scheme not in ("http", "https") or not urlsplit(args.url).hostname:
        parser.error(f"--url must be an http(s) URL, not {args.url!r}")
    if not 0 < args.timeout <= 120:
        parser.error("--timeout must be in (0, 120] seconds")
    return 0 if run_smoke(args.url, token, timeout=args.timeout) else 1
