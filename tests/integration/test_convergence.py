"""Normalization converges: any order and any duplication of deliveries give the same rows.

The deliveries are the real examples of the handled events, which include
several snapshots of the same run (requested, completed, completed with a
different conclusion) and of the same job (queued, in progress, completed
twice), so order genuinely matters to a naive writer.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from controltower.ingest.normalize import normalize
from controltower.ingest.processing import write_fact
from controltower.store import schema
from controltower.store.engine import make_engine
from controltower.store.tables import Job, WorkflowRun
from controltower.store.writer import FactWriter
from tests.support.dump import dump_facts
from tests.support.paths import EXAMPLES
from tests.support.reference import DELIVERIES, apply, fresh_engine, reference_dump

REFERENCE = reference_dump()

orders = st.permutations(range(len(DELIVERIES))).flatmap(
    lambda perm: (
        st.lists(st.sampled_from(perm), max_size=15)
        .map(lambda extra: [*perm, *extra])
        .flatmap(st.permutations)
    )
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(order=orders)
def test_any_permutation_with_duplicates_converges(order: list[int]) -> None:
    """Every ordering, with repeats, of all deliveries stores exactly the reference rows."""
    with tempfile.TemporaryDirectory() as directory:
        engine = fresh_engine(directory)
        apply(engine, order)
        assert dump_facts(engine) == REFERENCE
        engine.dispose()


def test_reverse_order_with_duplicates_converges_on_both_databases(engine: Engine) -> None:
    """On SQLite and PostgreSQL (real migrations), reversed and doubled deliveries converge."""
    everything = list(range(len(DELIVERIES)))
    apply(engine, list(reversed(everything)) + everything[::2])
    assert dump_facts(engine) == REFERENCE


def test_completed_job_never_goes_back_to_in_progress(sqlite_engine: Engine) -> None:
    """A late in_progress delivery after completed leaves the job completed with its steps."""
    job_dir = EXAMPLES / "workflow_job"
    completed = json.loads(
        (job_dir / "completed.success.with-organization.payload.json").read_text()
    )
    in_progress = json.loads((job_dir / "in_progress.payload.json").read_text())
    assert completed["workflow_job"]["id"] == in_progress["workflow_job"]["id"]
    for payload in (completed, in_progress):
        with sqlite_engine.begin() as conn:
            writer = FactWriter(conn)
            for fact in normalize("workflow_job", payload).facts:
                write_fact(writer, fact)
    with sqlite_engine.connect() as conn:
        status, conclusion = conn.execute(select(Job.status, Job.conclusion)).one()
    assert (status, conclusion) == ("completed", "success")


def test_job_before_its_run_is_linked_once_the_run_arrives(sqlite_engine: Engine) -> None:
    """A job that arrives first gets a placeholder attempt, which the run's delivery fills in."""
    job = json.loads((EXAMPLES / "workflow_job" / "queued.payload.json").read_text())
    run = json.loads((EXAMPLES / "workflow_run" / "completed.payload.json").read_text())
    run["workflow_run"]["id"] = job["workflow_job"]["run_id"]
    run["repository"] = job["repository"]
    for event, payload in (("workflow_job", job), ("workflow_run", run)):
        with sqlite_engine.begin() as conn:
            writer = FactWriter(conn)
            for fact in normalize(event, payload).facts:
                write_fact(writer, fact)
    with sqlite_engine.connect() as conn:
        runs = conn.execute(select(WorkflowRun.id, WorkflowRun.status)).all()
        (run_pk,) = conn.execute(select(Job.run_pk)).scalars().all()
    assert runs == [(run_pk, "completed")]


def test_migrated_and_declared_schemas_store_the_same(tmp_path: Path) -> None:
    """The convergence reference computed on create_all tables equals the migrated store's."""
    engine = make_engine(f"sqlite:///{tmp_path / 'migrated.db'}")
    schema.upgrade(engine)
    apply(engine, list(range(len(DELIVERIES))))
    assert dump_facts(engine) == REFERENCE
    engine.dispose()
