"""What reading GitHub's API adds: completeness, problems, and the logs of failed jobs.

``/api/v1/completeness`` says how much webhooks missed (a drop below the
threshold is one of the problems at ``/api/v1/problems``);
``/api/v1/jobs/{job_pk}/log`` serves a stored log.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from fastapi.responses import PlainTextResponse

from controltower.ingest import joblogs
from controltower.telemetry import completeness
from controltower.web.deps import ConnectionDep, ContainerDep, RowId

router = APIRouter(prefix="/api/v1", tags=["github"])


@router.get("/completeness")
def get_completeness(conn: ConnectionDep, container: ContainerDep) -> completeness.Completeness:
    """Share of the runs GitHub listed that arrived by webhook, overall and per repository."""
    threshold = container.settings.reconcile.completeness_threshold
    return completeness.data_completeness(conn, threshold)


@router.get("/jobs/{job_pk}/log", response_class=PlainTextResponse)
def get_job_log(job_pk: RowId, conn: ConnectionDep) -> PlainTextResponse:
    """The stored log of a job (``jobs.id``) as text; 404 when none is stored.

    ``X-Log-Truncated: true`` when only the end of a longer log was kept;
    ``X-Log-Unavailable`` carries GitHub's reason when it had no log to give.
    """
    stored = joblogs.job_log(conn, job_pk)
    if stored is None:
        raise HTTPException(404, f"no log stored for job {job_pk}")
    headers = {
        "X-Log-Truncated": "true" if stored.truncated else "false",
        "X-Log-Size": str(stored.size),
    }
    if stored.error:
        headers["X-Log-Unavailable"] = stored.error[:200]
    return PlainTextResponse(stored.text, headers=headers)
