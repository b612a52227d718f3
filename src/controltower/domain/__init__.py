"""Vocabulary shared by every stage: pure values, no I/O, no imports of ours beyond ``domain``."""

from controltower.domain.facts import (
    DeploymentFact,
    DeploymentStatusFact,
    JobDeliveryFact,
    JobFact,
    PullRequestFact,
    PushFact,
    RunFact,
    StepFact,
)
from controltower.domain.status import (
    END_NOT_KNOWN,
    FAILED_CONCLUSIONS,
    JOB_TIME_LIMIT,
    Conclusion,
    could_be_running,
    digest,
    is_failed,
    is_passed,
    outcome,
    run_result,
    snapshot_key,
    status_rank,
)

__all__ = [
    "END_NOT_KNOWN",
    "FAILED_CONCLUSIONS",
    "JOB_TIME_LIMIT",
    "Conclusion",
    "DeploymentFact",
    "DeploymentStatusFact",
    "JobDeliveryFact",
    "JobFact",
    "PullRequestFact",
    "PushFact",
    "RunFact",
    "StepFact",
    "could_be_running",
    "digest",
    "is_failed",
    "is_passed",
    "outcome",
    "run_result",
    "snapshot_key",
    "status_rank",
]
