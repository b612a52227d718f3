"""Dependencies shared by the routers: the container and a database connection."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Connection

from controltower.bootstrap import Container
from controltower.store.engine import reading


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
