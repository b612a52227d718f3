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
    FAILED_CONCLUSIONS,
    Conclusion,
    digest,
    is_failed,
    is_passed,
    outcome,
    snapshot_key,
    status_rank,
)

__all__ = [
    "FAILED_CONCLUSIONS",
    "Conclusion",
    "DeploymentFact",
    "DeploymentStatusFact",
    "JobDeliveryFact",
    "JobFact",
    "PullRequestFact",
    "PushFact",
    "RunFact",
    "StepFact",
    "digest",
    "is_failed",
    "is_passed",
    "outcome",
    "snapshot_key",
    "status_rank",
]
