"""The registry of model versions: trained, promoted, rolled back, archived, never deleted.

Each version keeps its serialized models (gzip-compressed JSON of their saved
forms) and the evaluation report of the protocol, from which the live
predictor of each figure is chosen (``selection``). At most one version is
``live``; promoting another archives it; rolling back makes the version that
was live before the current one live again (promotions stack, rollbacks take
them off in turn; promoting the live version changes nothing). Functions take the caller's
connection: the caller's transaction commits.
"""

from __future__ import annotations

import gzip
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import Connection, select, update

from controltower.errors import AlreadyLive, ModelVersionNotFound
from controltower.intelligence.selection import LivePredictors, live_predictors
from controltower.store.tables import ModelVersion, table_of

if TYPE_CHECKING:
    from controltower.intelligence.duration import DurationModel
    from controltower.intelligence.job_duration import JobDurationModel
    from controltower.intelligence.job_model import JobFailureModel
    from controltower.intelligence.models import FailureModel
    from controltower.intelligence.training import Trained

versions_t = table_of(ModelVersion)
CANDIDATE, LIVE, ARCHIVED = "candidate", "live", "archived"
OPERATOR, TRAINING = "operator", "training"
_SUMMARY_COLUMNS = tuple(c for c in versions_t.c if c.name != "model")


@dataclass(frozen=True, slots=True)
class VersionInfo:
    """One registered version, without its models."""

    version: int
    status: str
    created_at: datetime
    promoted_at: datetime | None
    archived_at: datetime | None
    trained_runs: int
    failure_predictor: str
    duration_predictor: str
    report: dict[str, Any]
    job_failure_predictor: str | None = None
    promoted_by: str | None = None
    job_duration_predictor: str | None = None

    @property
    def probability_predictor(self) -> str:
        """What gives the failure probability: chosen by the report's Brier score, then AUC."""
        return live_predictors(self.report).probability

    @property
    def chosen_by_operator(self) -> bool:
        """Whether an operator made it live (promote, rollback), not training."""
        return self.promoted_by == OPERATOR

    @property
    def history_as_of(self) -> str | None:
        """When the history it learnt from stood as it learnt it (ISO 8601), for a version
        trained as of a past moment (``lifecycle.retrain(as_of=...)``); None: all stored."""
        moment = self.report.get("history_as_of")
        return moment if isinstance(moment, str) else None

    def summary(self) -> dict[str, Any]:
        """The version as a JSON-ready dict, its pooled deciding figures instead of the report."""
        live = live_predictors(self.report)
        return {
            "version": self.version,
            "status": self.status,
            "created_at": self.created_at.isoformat(),
            "promoted_at": self.promoted_at.isoformat() if self.promoted_at else None,
            "archived_at": self.archived_at.isoformat() if self.archived_at else None,
            "trained_runs": self.trained_runs,
            "history_as_of": self.history_as_of,
            "failure_predictor": self.failure_predictor,
            "probability_predictor": self.probability_predictor,
            "duration_predictor": self.duration_predictor,
            "failure_f1": live.failure_f1,
            "duration_mdape": live.duration_mdape,
            "job_failure_predictor": self.job_failure_predictor,
            "job_duration_predictor": self.job_duration_predictor,
            "promoted_by": self.promoted_by,
        }


def job_failure_predictor(report: dict[str, Any]) -> str | None:
    """What serves jobs' failure figures by a job report: ``model``, ``baselines``, or None.

    None: the version was trained with no jobs stored.
    """
    jobs = report.get("jobs")
    if not jobs:
        return None
    return "model" if jobs["served"]["failure_predicted"] == "model" else "baselines"


def job_duration_predictor(report: dict[str, Any]) -> str | None:
    """What serves jobs' durations by a job report: ``model`` where it chose the job duration
    model, else ``median5`` (the median of five with its interval); None: no jobs stored.

    A version saved before the job duration model has a report choosing the median of five.
    """
    jobs = report.get("jobs")
    if not jobs:
        return None
    return "model" if jobs["served"].get("duration") == "model" else "median5"


@dataclass(frozen=True, slots=True)
class LoadedModels:
    """A version's models, ready to predict, and which predictor serves each figure
    (``failure_predictor`` the pass/fail decision, ``probability_predictor`` the probability)."""

    version: int
    failure: FailureModel
    duration: DurationModel
    failure_predictor: str
    duration_predictor: str
    job_failure: JobFailureModel | None = None
    job_failure_predictor: str | None = None
    probability_predictor: str = "model"
    job_duration: JobDurationModel | None = None
    job_duration_predictor: str | None = None


def _info(row: Any) -> VersionInfo:
    return VersionInfo(
        version=row.id,
        status=row.status,
        created_at=row.created_at,
        promoted_at=row.promoted_at,
        archived_at=row.archived_at,
        trained_runs=row.trained_runs,
        failure_predictor=row.failure_predictor,
        duration_predictor=row.duration_predictor,
        report=row.report,
        job_failure_predictor=row.job_failure_predictor,
        promoted_by=row.promoted_by,
        # registered before the column: as its job report chose
        job_duration_predictor=row.job_duration_predictor or job_duration_predictor(row.report),
    )


def serialize(trained: Trained) -> bytes:
    """The stored form of the trained models."""
    saved = {"failure": trained.failure.to_dict(), "duration": trained.duration.to_dict()}
    if trained.job_failure is not None:
        saved["job_failure"] = trained.job_failure.to_dict()
    if trained.job_duration is not None:
        saved["job_duration"] = trained.job_duration.to_dict()
    return gzip.compress(orjson.dumps(saved), compresslevel=6)


def register(conn: Connection, trained: Trained, report: dict[str, Any]) -> VersionInfo:
    """Store trained models and their evaluation report as a new candidate version."""
    live = live_predictors(report)
    pk = conn.execute(
        versions_t.insert()
        .values(
            status=CANDIDATE,
            created_at=datetime.now(UTC),
            trained_runs=trained.runs,
            failure_predictor=live.failure,
            duration_predictor=live.duration,
            job_failure_predictor=job_failure_predictor(report)
            if trained.job_failure is not None
            else None,
            job_duration_predictor=job_duration_predictor(report),
            model=serialize(trained),
            report=report,
        )
        .returning(versions_t.c.id)
    ).scalar_one()
    return version(conn, pk)


def versions(conn: Connection) -> list[VersionInfo]:
    """Every registered version, newest first."""
    rows = conn.execute(select(*_SUMMARY_COLUMNS).order_by(versions_t.c.id.desc()))
    return [_info(row) for row in rows]


def version(conn: Connection, number: int) -> VersionInfo:
    """Version ``number``; ``ModelVersionNotFound`` when there is none."""
    row = conn.execute(select(*_SUMMARY_COLUMNS).where(versions_t.c.id == number)).first()
    if row is None:
        raise ModelVersionNotFound(f"no model version {number}")
    return _info(row)


def live_version(conn: Connection) -> VersionInfo | None:
    """The live version, if any."""
    row = conn.execute(select(*_SUMMARY_COLUMNS).where(versions_t.c.status == LIVE)).first()
    return None if row is None else _info(row)


def promote(conn: Connection, number: int, *, by: str = OPERATOR) -> VersionInfo:
    """Make version ``number`` live; the version live until now is archived.

    ``by`` is who does: ``operator`` or ``training``. ``AlreadyLive``
    (nothing changed) when ``number`` is the live version.
    """
    found = version(conn, number)
    if found.status == LIVE:
        raise AlreadyLive(f"version {number} is already live: nothing changed")
    now = datetime.now(UTC)
    conn.execute(
        update(versions_t)
        .where(versions_t.c.status == LIVE, versions_t.c.id != number)
        .values(status=ARCHIVED, archived_at=now)
    )
    conn.execute(
        update(versions_t)
        .where(versions_t.c.id == number)
        .values(status=LIVE, promoted_at=now, archived_at=None, rolled_back_at=None, promoted_by=by)
    )
    return version(conn, number)


def rollback_target(conn: Connection) -> int | None:
    """The version a rollback would make live now, or None when there is none.

    Promotions stack up and rollbacks take them off in turn: the archived
    version promoted last before the live one, and not rolled back from since.
    """
    current = live_version(conn)
    query = select(versions_t.c.id).where(
        versions_t.c.status == ARCHIVED,
        versions_t.c.promoted_at.is_not(None),
        versions_t.c.rolled_back_at.is_(None),
    )
    if current is not None and current.promoted_at is not None:
        query = query.where(versions_t.c.promoted_at < current.promoted_at)
    found: int | None = conn.execute(
        query.order_by(versions_t.c.promoted_at.desc()).limit(1)
    ).scalar()
    return found


def rollback(conn: Connection) -> VersionInfo:
    """Make live again the version that was live before the live one (``rollback_target``).

    The live version is archived and rolled back from: later rollbacks pass
    over it until it is promoted again. Rolling back is an operator's choice.
    """
    previous = rollback_target(conn)
    if previous is None:
        raise ModelVersionNotFound("no earlier live version to roll back to")
    now = datetime.now(UTC)
    conn.execute(
        update(versions_t)
        .where(versions_t.c.status == LIVE)
        .values(status=ARCHIVED, archived_at=now, rolled_back_at=now)
    )
    # The restored version keeps its promotion time, so a second rollback goes further back.
    conn.execute(
        update(versions_t)
        .where(versions_t.c.id == previous)
        .values(status=LIVE, archived_at=None, promoted_by=OPERATOR)
    )
    return version(conn, previous)


def chosen_predictors(info: VersionInfo) -> LivePredictors:
    """The predictors the version's evaluation report chose (before any demotion)."""
    return live_predictors(info.report)


def set_predictor(conn: Connection, number: int, figure: str, predictor: str) -> None:
    """Serve ``figure`` of version ``number`` by ``predictor``.

    ``figure`` is ``failure``, ``duration``, ``job_failure`` (jobs' failure figures) or
    ``job_duration`` (jobs' durations).
    """
    column = {
        "failure": "failure_predictor",
        "duration": "duration_predictor",
        "job_failure": "job_failure_predictor",
        "job_duration": "job_duration_predictor",
    }[figure]
    conn.execute(update(versions_t).where(versions_t.c.id == number).values({column: predictor}))


def load_models(conn: Connection, info: VersionInfo) -> LoadedModels:
    """The models of a version, deserialized (LightGBM is loaded here, not to list versions)."""
    from controltower.intelligence.duration import DurationModel  # noqa: PLC0415
    from controltower.intelligence.job_duration import JobDurationModel  # noqa: PLC0415
    from controltower.intelligence.job_model import JobFailureModel  # noqa: PLC0415
    from controltower.intelligence.models import FailureModel  # noqa: PLC0415

    blob = conn.execute(select(versions_t.c.model).where(versions_t.c.id == info.version)).scalar()
    if blob is None:
        raise ModelVersionNotFound(f"no model version {info.version}")
    saved = orjson.loads(gzip.decompress(blob))
    job_failure, job_duration = saved.get("job_failure"), saved.get("job_duration")
    return LoadedModels(
        version=info.version,
        failure=FailureModel.from_dict(saved["failure"]),
        duration=DurationModel.from_dict(saved["duration"]),
        failure_predictor=info.failure_predictor,
        duration_predictor=info.duration_predictor,
        job_failure=None if job_failure is None else JobFailureModel.from_dict(job_failure),
        job_failure_predictor=info.job_failure_predictor,
        probability_predictor=info.probability_predictor,
        job_duration=None if job_duration is None else JobDurationModel.from_dict(job_duration),
        job_duration_predictor=info.job_duration_predictor,
    )


class LoadedVersions:
    """Versions' models loaded in this process, by (database, version, registration time): a
    version never changes once registered, and a database emptied and filled again reuses
    numbers. The ``size`` used last are kept (a long-running server trains one a day, and
    live accuracy reads again those that made the last weeks' predictions); thread-safe."""

    def __init__(
        self, size: int, load: Callable[[Connection, VersionInfo], LoadedModels] = load_models
    ) -> None:
        self._size, self._load = size, load
        self._kept: OrderedDict[tuple[str, int, datetime], LoadedModels] = OrderedDict()
        self._lock = threading.Lock()

    def models(self, conn: Connection, info: VersionInfo) -> LoadedModels:
        """The models of ``info``'s version, loaded unless kept."""
        key = (conn.engine.url.render_as_string(hide_password=True), info.version, info.created_at)
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None:
                self._kept.move_to_end(key)
                return kept
        loaded = self._load(conn, info)  # outside the lock: deserializing takes a while
        with self._lock:
            self._kept[key] = loaded
            self._kept.move_to_end(key)
            while len(self._kept) > self._size:
                self._kept.popitem(last=False)
        return loaded

    def __len__(self) -> int:
        return len(self._kept)
