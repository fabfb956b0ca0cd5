"""The load's Lambda containers, seen from the driver: spawn them, invoke them, stop them."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_SECONDS = 120.0
STOP_TIMEOUT_SECONDS = 10.0
# A page of users is a few kilobytes; a line longer than this means something went wrong.
LINE_LIMIT = 1 << 22


@dataclass(frozen=True)
class Identity:
    """Who calls: the `sub` and verified `email` that API Gateway's JWT authorizer passes on."""

    subject: str
    email: str


@dataclass(frozen=True)
class ApiRequest:
    """One invocation: its route template (`GET /users/{user_id}`), path, caller and content."""

    route: str
    path: str
    caller: Identity
    body: dict[str, Any] | None = None
    query: dict[str, str] | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def message(self) -> dict[str, Any]:
        """The JSON a container turns into an API Gateway event."""
        return {
            "method": self.route.split(" ", 1)[0],
            "path": self.path,
            "subject": self.caller.subject,
            "email": self.caller.email,
            "body": self.body,
            "query": self.query,
            "headers": self.headers,
        }


@dataclass(frozen=True)
class ApiAnswer:
    """What the handler returned, and how long the invocation took."""

    status: int
    headers: dict[str, str]
    body: Any
    ms: float
    base64: bool = False
    # The container's first call of this route: it pays for lazy imports and connections.
    first: bool = False
    # The server the app logged for a list page sent with Read-After to a reader:
    # "replica", or "writer (behind|failed|skipped)"; None when it logged none.
    read_from: str | None = None

    def field(self, name: str) -> Any:
        """A field of a JSON object body, or None."""
        return self.body.get(name) if isinstance(self.body, dict) else None


class Container:
    """One spawned process that imported the handler and serves one invocation at a time."""

    def __init__(self, process: asyncio.subprocess.Process, log: Path, init_ms: float) -> None:
        self._process = process
        self.log = log
        self.init_ms = init_ms
        self._routes_served: set[str] = set()

    @classmethod
    async def spawn(cls, environment: Mapping[str, str], log: Path) -> Container:
        """Start a container and wait until its init (the handler's import) is done."""
        with log.open("wb") as log_file:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "local.load.container",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=log_file,
                env=dict(environment),
                cwd=PROJECT_ROOT,
                limit=LINE_LIMIT,
            )
        container = cls(process, log, 0.0)
        ready = await asyncio.wait_for(container._read(), START_TIMEOUT_SECONDS)
        container.init_ms = float(ready["init_ms"])
        return container

    async def invoke(self, request: ApiRequest) -> ApiAnswer:
        """Send one request and wait for its answer."""
        assert self._process.stdin is not None
        self._process.stdin.write((json.dumps(request.message()) + "\n").encode())
        await self._process.stdin.drain()
        answer = await self._read()
        first = request.route not in self._routes_served
        self._routes_served.add(request.route)
        return ApiAnswer(
            status=int(answer["status"]),
            headers=dict(answer["headers"]),
            body=answer["body"],
            ms=float(answer["ms"]),
            base64=bool(answer.get("base64")),
            first=first,
            read_from=answer.get("read_from"),
        )

    async def stop(self) -> None:
        """End the input, so the container exits; kill it if it does not."""
        if self._process.stdin is not None and not self._process.stdin.is_closing():
            self._process.stdin.close()
        try:
            await asyncio.wait_for(self._process.wait(), STOP_TIMEOUT_SECONDS)
        except TimeoutError:
            self._process.kill()
            await self._process.wait()

    async def _read(self) -> dict[str, Any]:
        assert self._process.stdout is not None
        line = await self._process.stdout.readline()
        if not line:
            tail = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
            raise RuntimeError(f"a load container exited ({self.log}):\n{tail}")
        answer: dict[str, Any] = json.loads(line)
        return answer


class Fleet:
    """Containers handed out whole: a request waits for a free one, as Lambda would start one."""

    def __init__(self, containers: Sequence[Container]) -> None:
        self.containers = list(containers)
        self._idle: asyncio.Queue[Container] = asyncio.Queue()
        for container in self.containers:
            self._idle.put_nowait(container)
        # Taken under a lock: two requests that each hold one container and wait for a
        # second would otherwise wait for each other forever.
        self._taking = asyncio.Lock()

    @property
    def size(self) -> int:
        """How many containers there are."""
        return len(self.containers)

    async def call(self, request: ApiRequest) -> ApiAnswer:
        """Invoke a free container with `request`."""
        return (await self.call_together([request]))[0]

    async def call_together(self, requests: Sequence[ApiRequest]) -> list[ApiAnswer]:
        """Invoke as many free containers at the same moment, one request each."""
        if not 0 < len(requests) <= self.size:
            raise ValueError(f"{len(requests)} requests at once need as many of {self.size}")
        async with self._taking:
            taken = [await self._idle.get() for _ in requests]
        try:
            return list(
                await asyncio.gather(
                    *(
                        container.invoke(request)
                        for container, request in zip(taken, requests, strict=True)
                    )
                )
            )
        finally:
            for container in taken:
                self._idle.put_nowait(container)


@asynccontextmanager
async def running_fleet(
    count: int, environment: Mapping[str, str], log_folder: Path
) -> AsyncIterator[Fleet]:
    """Spawn `count` containers side by side (each logs to its own file); stop them after."""
    log_folder.mkdir(parents=True, exist_ok=True)
    spawned = await asyncio.gather(
        *(
            Container.spawn(environment, log_folder / f"container-{number}.log")
            for number in range(count)
        ),
        return_exceptions=True,
    )
    containers = [item for item in spawned if isinstance(item, Container)]
    try:
        failed = [item for item in spawned if isinstance(item, BaseException)]
        if failed:
            raise failed[0]
        yield Fleet(containers)
    finally:
        await asyncio.gather(*(container.stop() for container in containers))
