"""Schema migrations through Alembic, and the check that the schema is current."""

from __future__ import annotations

from importlib.resources import files

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from controltower.errors import MigrationRequired
from controltower.store.engine import reading


def alembic_config(engine: Engine) -> Config:
    """An Alembic configuration for the package's migrations, bound to ``engine``."""
    config = Config()
    config.set_main_option("script_location", str(files("controltower") / "migrations"))
    url = engine.url.render_as_string(hide_password=False)
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))  # configparser escaping
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` in one transaction."""
    config = alembic_config(engine)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or ``None`` for an empty database."""
    with engine.connect() as conn:
        return MigrationContext.configure(reading(conn)).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    """The newest revision this code knows."""
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def ensure_current(engine: Engine) -> None:
    """Raise ``MigrationRequired`` unless the schema is at the code's head revision."""
    current, head = current_revision(engine), head_revision(engine)
    if current != head:
        raise MigrationRequired(
            f"database schema is at {current or 'nothing'}, code needs {head}: "
            "run `controltower db upgrade`"
        )
