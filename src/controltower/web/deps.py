"""Dependencies shared by the routers: the container, a database connection, the API token."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Hashable, Iterator
from typing import Annotated, TypeVar

from fastapi import Depends, HTTPException, Path, Query, Request
from sqlalchemy import Connection

from controltower.bootstrap import Container
from controltower.domain.limits import INT32_MAX
from controltower.store.engine import reading
from controltower.telemetry.views import View

T = TypeVar("T")


async def get_container(request: Request) -> Container:
    """The container the app was created with (async: no thread hop on the webhook path)."""
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


def get_connection(container: ContainerDep) -> Iterator[Connection]:
    """A read connection for the duration of a request."""
    with container.engine.connect() as conn:
        yield reading(conn)


ConnectionDep = Annotated[Connection, Depends(get_connection)]

# A larger id or offset in a path or query than the store's columns hold is refused with 422
# before any query, which the database would fail.
RowId = Annotated[int, Path(ge=1, le=INT32_MAX)]
Offset = Annotated[int, Query(ge=0, le=INT32_MAX, description="How many rows to skip.")]


async def require_token(request: Request, container: ContainerDep) -> None:
    """Refuse a write without the configured API token (``server.api_token``; none: open).

    401 with ``WWW-Authenticate: Bearer`` before the write is looked at, so
    nothing changes; the token is compared in constant time.
    """
    token = container.settings.server.api_token
    if token is None:
        return
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    expected = token.get_secret_value().encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
        raise HTTPException(
            status_code=401,
            detail="this write needs the API token: Authorization: Bearer <token>",
            headers={"WWW-Authenticate": "Bearer"},
        )


WRITES = [Depends(require_token)]


def kept(container: Container, key: Hashable, compute: Callable[[Connection], T]) -> View[T]:
    """``compute`` on a connection of its own, kept as view ``key`` (``telemetry.views``)."""
    return container.views.get(key, on_connection(container, compute))


def on_connection(container: Container, compute: Callable[[Connection], T]) -> Callable[[], T]:
    """``compute`` as a function that opens (and closes) its own read connection."""

    def run() -> T:
        with container.engine.connect() as conn:
            return compute(reading(conn))

    return run
