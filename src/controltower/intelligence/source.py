"""The stored run history, read as ``HistoryRun`` values for training and evaluation."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Engine, select

from controltower.intelligence.records import HistoryRun
from controltower.store.tables import Repository, Workflow, WorkflowRun, table_of

BATCH = 20_000
runs_t, repos_t, workflows_t = table_of(WorkflowRun), table_of(Repository), table_of(Workflow)


def stored_history(engine: Engine, repository: str | None = None) -> Iterator[HistoryRun]:
    """Every stored run attempt (of one repository, if named)."""
    c = runs_t.c
    query = (
        select(
            repos_t.c.full_name,
            workflows_t.c.name,
            c.run_id,
            c.attempt,
            c.run_number,
            c.event,
            c.branch,
            c.actor,
            c.head_sha,
            c.pull_request,
            c.status,
            c.conclusion,
            c.created_at,
            c.started_at,
            c.completed_at,
            c.duration_s,
            c.files_changed,
            c.lines_added,
            c.lines_deleted,
            c.commits,
        )
        .join(repos_t, repos_t.c.id == c.repository_id)
        .join(workflows_t, workflows_t.c.id == c.workflow_id)
    )
    if repository is not None:
        query = query.where(repos_t.c.full_name == repository)
    with engine.connect() as conn:
        for row in conn.execution_options(yield_per=BATCH).execute(query):
            yield HistoryRun(
                repository=row[0],
                workflow=row[1],
                run_id=row[2],
                attempt=row[3],
                run_number=row[4],
                event=row[5],
                branch=row[6],
                actor=row[7],
                head_sha=row[8],
                pull_request=row[9],
                status=row[10],
                conclusion=row[11],
                created=row[12].timestamp() if row[12] else None,
                started=row[13].timestamp() if row[13] else None,
                completed=row[14].timestamp() if row[14] else None,
                duration_s=row[15],
                files_changed=row[16],
                lines_added=row[17],
                lines_deleted=row[18],
                commits=row[19],
            )
