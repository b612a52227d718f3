"""``/api/v1/predict``: duration and failure risk of a hypothetical run; a run's stored prediction.

``/api/v1/predictions/accuracy``: live accuracy of each predictor over recently
completed runs, whatever the rollout shows (shadow predictions are scored too).

Both obey the prediction mode now (switched live, else the settings) and the
rollout settings: nothing is shown while prediction is off or disabled, in
shadow mode, or (canary) for a repository outside the allow-list
(hypothetical runs) or a run outside the canary.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from sqlalchemy import Connection

from controltower.domain.limits import INT32_MAX
from controltower.errors import PredictionUnavailable
from controltower.intelligence.accuracy import accuracy_end, demotions, live_accuracy
from controltower.intelligence.capability import prediction_mode
from controltower.intelligence.job_serving import job_comparisons
from controltower.intelligence.records import HistoryRun
from controltower.intelligence.rollout import exposure
from controltower.intelligence.selection import PREDICTOR_WORDS
from controltower.intelligence.serving import RunPrediction, predict_hypothetical, stored_prediction
from controltower.intelligence.source import run_pk_of
from controltower.store import queries
from controltower.telemetry import drilldown
from controltower.telemetry.activity import Problem
from controltower.web.deps import ConnectionDep, ContainerDep

router = APIRouter(prefix="/api/v1", tags=["prediction"])


# The events that trigger a GitHub Actions workflow run, as GitHub names them.
WORKFLOW_EVENTS = frozenset(
    {
        "branch_protection_rule", "check_run", "check_suite", "create", "delete", "deployment",
        "deployment_status", "discussion", "discussion_comment", "dynamic", "fork", "gollum",
        "issue_comment", "issues", "label", "merge_group", "milestone", "page_build", "project",
        "project_card", "project_column", "public", "pull_request", "pull_request_review",
        "pull_request_review_comment", "pull_request_target", "push", "registry_package",
        "release", "repository_dispatch", "schedule", "status", "watch", "workflow_call",
        "workflow_dispatch", "workflow_run",
    }
)  # fmt: skip
Name = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r"\S")]


class PredictRequest(BaseModel):
    """A run that could be requested now: its trigger and its change (no other field)."""

    model_config = ConfigDict(extra="forbid")

    repository: Name = Field(examples=["octo-org/octo-repo"])
    workflow: Name = Field(examples=["CI"], description="the workflow's name, as its runs show it")
    branch: Name | None = None
    event: str | None = Field(
        default=None, examples=["push", "pull_request"], description="a GitHub event name"
    )
    actor: Name | None = Field(default=None, description="who pushes; absent: not known")
    files_changed: int | None = Field(default=None, ge=0)
    lines_added: int | None = Field(default=None, ge=0)
    lines_deleted: int | None = Field(default=None, ge=0)
    commits: int | None = Field(default=None, ge=0)

    @field_validator("event")
    @classmethod
    def _github_event(cls, event: str | None) -> str | None:
        if event is not None and event not in WORKFLOW_EVENTS:
            raise ValueError(f"{event!r} is not a GitHub event that runs workflows (push, ...)")
        return event


class JobPredictionPublic(BaseModel):
    """One expected job: predicted duration percentiles and failure, and how it went."""

    name: str
    duration_p10: float | None
    duration_p50: float | None
    duration_p90: float | None
    failure_probability: float | None
    failure_predicted: bool | None
    failure_predictor: str | None = Field(
        description="what gave the failure figures: model or baselines (None: not recorded)"
    )
    risk_factors: list[str] = Field(
        description="what pushed the job model's failure probability up or down, in words"
    )
    actual_conclusion: str | None
    actual_duration_s: float | None
    actual_status: str | None = Field(
        default=None,
        description="GitHub's status of the job that ran as it: queued, in_progress, completed",
    )
    duration_predictor: str = Field(
        default="median5",
        description="what gave the durations: model (the job duration model) or median5 "
        "(the median of the job's last five successful durations)",
    )


class PredictionPublic(BaseModel):
    """Duration percentiles (seconds), failure probability, reasons, and who served each figure."""

    duration_p10: float | None
    duration_p50: float | None
    duration_p90: float | None
    duration_predictor: str
    failure_probability: float | None
    failure_predicted: bool | None
    failure_predictor: str = Field(description="what decided pass or fail (best F1)")
    probability_predictor: str = Field(
        description="what gave the failure probability (best Brier score, then ROC AUC)"
    )
    failure_reason: str | None = Field(
        description="why it is predicted to fail or pass, in words (null: stored before)"
    )
    risk_factors: list[str] = Field(description="what moved the probability shown, in words")
    duration_factors: list[str] = Field(
        default_factory=list,
        description="what moved the duration model's median from the median of the last five "
        "successful runs, in words, with which way each pushed it (empty: a baseline gave the "
        "durations, it did not move, or it was stored before they were told)",
    )
    version: int | None
    jobs: list[JobPredictionPublic] = Field(default_factory=list)


def _public(prediction: RunPrediction | dict[str, Any]) -> PredictionPublic:
    if isinstance(prediction, dict):
        # stored before the probability could come from another predictor: the decider gave it
        by = prediction["probability_predictor"] or prediction["failure_predictor"]
        return PredictionPublic(
            **{
                **prediction,
                "version": prediction["version_id"],
                "probability_predictor": by,
                "duration_factors": prediction.get("duration_factors") or [],
            }
        )
    fields = (f for f in PredictionPublic.model_fields if f != "jobs")
    return PredictionPublic(**{f: getattr(prediction, f) for f in fields})


@router.post("/predict")
def predict(body: PredictRequest, container: ContainerDep, conn: ConnectionDep) -> PredictionPublic:
    """Predict a hypothetical run of ``repository`` requested now, and its expected jobs.

    404 for a repository with no stored runs, or a workflow of it with none: there is
    no history to predict from. The repository may be named in any case, as on GitHub.
    """
    repository = queries.stored_repository(conn, body.repository) or body.repository
    workflows = drilldown.workflow_ids(conn, repository)
    if not workflows:
        raise HTTPException(404, f"no runs of {repository} stored: nothing to predict from")
    if body.workflow not in workflows:
        known = ", ".join(sorted(workflows)[:20])
        raise HTTPException(
            404,
            f"no workflow {body.workflow!r} in {repository}: nothing to predict from "
            f"(its workflows: {known})",
        )
    mode = prediction_mode(conn, container.settings).mode
    decided = exposure(container.settings, repository, None, mode)
    if not decided.show:
        raise PredictionUnavailable(f"predictions are not shown: {decided.reason}")
    run = HistoryRun(
        **{**body.model_dump(), "repository": repository},
        run_id="hypothetical",
        status="queued",
        created=datetime.now(UTC).timestamp(),
        pull_request=None,
    )
    prediction, expected = predict_hypothetical(conn, run)
    shown = JobPredictionPublic.model_fields
    jobs = [
        JobPredictionPublic(
            **{k: v for k, v in asdict(j).items() if k in shown},
            actual_conclusion=None,
            actual_duration_s=None,
        )
        for j in expected
    ]
    return _public(prediction).model_copy(update={"jobs": jobs})


@router.get("/repositories/{owner}/{name}/runs/{run_id}/prediction")
def run_prediction(
    owner: str,
    name: str,
    run_id: str,
    conn: ConnectionDep,
    container: ContainerDep,
    attempt: Annotated[int, Query(ge=1, le=INT32_MAX)] = 1,
) -> PredictionPublic:
    """The prediction stored when the run was requested, where the rollout shows it now.

    The mode in force now decides, whatever it was when the prediction was made.
    """
    typed = f"{owner}/{name}"
    repository = queries.stored_repository(conn, typed) or typed
    mode = prediction_mode(conn, container.settings).mode
    decided = exposure(container.settings, repository, run_id, mode)
    if not decided.show:
        raise HTTPException(404, f"no prediction shown: {decided.reason}")
    pk = run_pk_of(conn, repository, run_id, attempt)
    stored = stored_prediction(conn, pk) if pk is not None else None
    if pk is None or stored is None:
        raise HTTPException(404, f"no prediction stored for run {run_id} attempt {attempt}")
    jobs = [JobPredictionPublic(**asdict(j)) for j in job_comparisons(conn, pk)]
    return _public(stored).model_copy(update={"jobs": jobs})


class AccuracyPublic(BaseModel):
    """Figures per predictor (``model`` and the baselines) on the same completed runs."""

    since: datetime
    until: datetime
    runs: int
    failure_runs: int
    duration_runs: int
    served: dict[str, dict[str, int]]
    failure: dict[str, dict[str, float | None]]
    duration: dict[str, dict[str, float | None]]
    jobs: int = Field(description="expected jobs of those runs that passed or failed, scored")
    job_failure: dict[str, dict[str, float | None]]
    job_duration_jobs: int = Field(
        default=0, description="expected jobs of those runs that passed with a duration, scored"
    )
    job_duration: dict[str, dict[str, float | None]] = Field(default_factory=dict)
    left_out: int = Field(
        default=0,
        description="of the runs, those predicted before any version existed whose outcome the"
        " live version learnt from: no version can score them out of sample, so no figure"
        " counts them",
    )
    model_versions: dict[int, int] = Field(
        default_factory=dict,
        description="the model's figures: how many of the runs each version's models scored"
        " (the version that made each prediction; the live one for a prediction made before"
        " any version)",
    )
    demoted: dict[str, str]


@router.get("/predictions/accuracy")
def accuracy(
    conn: ConnectionDep,
    container: ContainerDep,
    days: int | None = Query(default=None, ge=1, le=366),
) -> AccuracyPublic:
    """Failure precision, recall, F1 and duration within ±20%, coverage, MdAPE per predictor."""
    days = days or container.settings.intelligence.accuracy_days
    found = live_accuracy(conn, days, accuracy_end(conn))
    demoted = {d.figure: d.predictor for d in demotions(conn)}
    return AccuracyPublic(
        since=found.since,
        until=found.until,
        runs=found.runs,
        failure_runs=found.failure_runs,
        duration_runs=found.duration_runs,
        served=found.served,
        failure=found.failure,
        duration=found.duration,
        jobs=found.jobs,
        job_failure=found.job_failure,
        job_duration_jobs=found.job_duration_jobs,
        job_duration=found.job_duration,
        left_out=found.left_out,
        model_versions=found.model_versions,
        demoted=demoted,
    )


FIGURE_WORDS = {"job_failure": "job failure", "job_duration": "job duration"}


def model_accuracy_problems(conn: Connection) -> list[Problem]:
    """A ``model-accuracy`` problem for each figure of the live model demoted to a baseline."""
    return [
        Problem(
            "model-accuracy",
            "warning",
            f"prediction of {FIGURE_WORDS.get(d.figure, d.figure)} demoted to a baseline",
            f"live accuracy of the model fell below the baseline by more than the margin;"
            f" {PREDICTOR_WORDS.get(d.predictor, d.predictor)} serves"
            f" {FIGURE_WORDS.get(d.figure, d.figure)} in version"
            f" {d.version} until an operator promotes a version (scheduled training keeps"
            " the demotion)",
        )
        for d in demotions(conn)
    ]
