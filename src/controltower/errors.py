"""The exception tree of controltower.

Every error the package raises on purpose derives from ``ControlTowerError``;
third-party errors are translated at the boundary with ``raise ... from exc``::

    ControlTowerError
    ├── ConfigurationError          settings that cannot work (exit status 2)
    ├── UsageError                  a command line that cannot work: a bad value, an unknown
    │                               repository, options that do not go together (exit status 2)
    ├── StoreError                  the database could not do what was asked
    │   └── MigrationRequired       the schema is older than the code
    │       └── DatabaseMissing     no SQLite file where the URL says (a command that only reads)
    ├── IngestError                 a delivery or a record was refused
    │   ├── SignatureError          missing or wrong X-Hub-Signature-256 (HTTP 401)
    │   ├── PayloadTooLarge         body above the configured limit (HTTP 413)
    │   ├── UnsupportedMediaType    neither JSON nor form-encoded (HTTP 415)
    │   └── MalformedPayload        not JSON, or not an object, or no event (HTTP 400)
    ├── RecordRejected              one history record breaks the format (line and reason)
    ├── PredictionError             prediction could not do what was asked
    │   ├── ModelVersionNotFound    no such model version, or none to roll back to (HTTP 404)
    │   ├── AlreadyLive             promoting the version that is live: nothing changes (HTTP 409)
    │   ├── NoHistory               no run history to train on
    │   ├── OneOutcome              runs of one outcome only: no failure to learn from, or no pass
    │   └── PredictionUnavailable   the rollout settings do not let predictions be shown (HTTP 503)
    ├── InvalidSeries               a metric series to analyse cannot be read (line and reason)
    ├── AlertError                  an alert or a silence could not be changed as asked
    │   ├── AlertNotFound           no alert with that id (HTTP 404)
    │   ├── SilenceNotFound         no silence with that id (HTTP 404)
    │   ├── AlertNotOpen            the alert has resolved: nothing left to acknowledge (HTTP 409)
    │   ├── InvalidSilence          matchers, times or reason that cannot make a silence (HTTP 422)
    │   └── InvalidAcknowledgement  an acknowledgement that names nobody (HTTP 422)
    ├── AnomalyError                a recorded anomaly could not be changed as asked
    │   ├── AnomalyNotFound         no anomaly with that id (HTTP 404)
    │   └── InvalidVerdict          not confirmed or dismissed, or nobody named (HTTP 422)
    ├── CapabilityError             a capability switch was refused
    │   ├── UnknownCapability       no capability of that name (HTTP 404)
    │   └── InvalidMode             not one of off, shadow, canary, on (HTTP 400)
    └── GitHubError                 a call to GitHub's REST API failed (after any retries)
        ├── GitHubAuthError         401, or 403 that is not a rate limit: credentials or access
        ├── GitHubNotFound          404: no such repository, organization, run or job
        ├── GitHubRateLimited       still rate limited after waiting as long as allowed
        └── GitHubUnavailable       5xx, timeouts or connection errors, retries exhausted

The web layer maps these to status codes; nothing outside ``web`` raises
``HTTPException``.
"""

from __future__ import annotations


class ControlTowerError(Exception):
    """Base of every error controltower raises on purpose."""


class ConfigurationError(ControlTowerError):
    """The settings cannot work; the message says what to change."""


class UsageError(ControlTowerError):
    """The command line asks for what cannot be done; the message says which option and why.

    Not a ``ConfigurationError``: the settings are fine, the command was mistyped.
    """


class StoreError(ControlTowerError):
    """The database could not do what was asked."""


class MigrationRequired(StoreError):
    """The database schema is older than this code: run ``controltower db upgrade``."""


class DatabaseMissing(MigrationRequired):
    """No SQLite file at the configured path, for a command that only reads: nothing is created."""


class IngestError(ControlTowerError):
    """A webhook delivery was refused before anything was stored."""


class SignatureError(IngestError):
    """The delivery's ``X-Hub-Signature-256`` is missing or does not match."""


class PayloadTooLarge(IngestError):
    """The delivery's body is larger than the configured limit."""


class UnsupportedMediaType(IngestError):
    """The delivery is neither ``application/json`` nor form-encoded."""


class MalformedPayload(IngestError):
    """The delivery's body is not a JSON object, or names no event."""


class RecordRejected(ControlTowerError):
    """A run history record breaks the interchange format."""

    def __init__(self, reason: str, *, line: int | None = None) -> None:
        self.reason = reason
        self.line = line
        super().__init__(f"line {line}: {reason}" if line is not None else reason)


class PredictionError(ControlTowerError):
    """Prediction could not do what was asked."""


class ModelVersionNotFound(PredictionError):
    """No model version with that number, or no earlier live version to roll back to."""


class AlreadyLive(PredictionError):
    """The version asked to be promoted is the live one; nothing was changed."""


class NoHistory(PredictionError):
    """There is no run history to train the models on."""


class OneOutcome(PredictionError):
    """The runs to learn from all passed, or all failed: the failure model needs both."""


class PredictionUnavailable(PredictionError):
    """Predictions are off, in shadow, or outside the canary for what was asked."""


class CapabilityError(ControlTowerError):
    """A capability switch was refused; nothing was changed."""


class UnknownCapability(CapabilityError):
    """No capability has that name."""


class InvalidMode(CapabilityError):
    """A mode that is not one of off, shadow, canary, on."""


class GitHubError(ControlTowerError):
    """A call to GitHub's REST API failed; ``status`` is the HTTP status when there was one."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class GitHubAuthError(GitHubError):
    """GitHub refused the credentials, or they do not grant access to what was asked."""


class GitHubNotFound(GitHubError):
    """GitHub has no such repository, organization, run or job (or hides it from us)."""


class GitHubRateLimited(GitHubError):
    """GitHub kept answering with a rate limit after every allowed retry."""


class GitHubUnavailable(GitHubError):
    """GitHub answered 5xx, timed out or could not be reached, after every allowed retry."""


class InvalidSeries(ControlTowerError):
    """A metric series given for analysis cannot be read; the message names the line."""


class AlertError(ControlTowerError):
    """An alert or a silence could not be changed as asked; nothing was changed."""


class AlertNotFound(AlertError):
    """No alert has that id."""


class SilenceNotFound(AlertError):
    """No silence has that id."""


class AlertNotOpen(AlertError):
    """The alert has resolved, so it can no longer be acknowledged."""


class InvalidSilence(AlertError):
    """The silence asked for cannot be made: the message says which field and why."""


class InvalidAcknowledgement(AlertError):
    """The acknowledgement asked for cannot be recorded: the message says why."""


class AnomalyError(ControlTowerError):
    """A recorded anomaly could not be changed as asked; nothing was changed."""


class AnomalyNotFound(AnomalyError):
    """No recorded anomaly has that id."""


class InvalidVerdict(AnomalyError):
    """The verdict is neither ``confirmed`` nor ``dismissed``, or names nobody."""
