"""How the exception tree maps to HTTP status codes: the one place that decides it."""

from __future__ import annotations

from http import HTTPStatus

from controltower.errors import (
    AlertNotFound,
    AlertNotOpen,
    AlreadyLive,
    AnomalyNotFound,
    ControlTowerError,
    InvalidAcknowledgement,
    InvalidSilence,
    InvalidVerdict,
    MalformedPayload,
    ModelVersionNotFound,
    PayloadTooLarge,
    PredictionUnavailable,
    SignatureError,
    SilenceNotFound,
    StoreError,
    UnknownCapability,
    UnsupportedMediaType,
)

_STATUS: tuple[tuple[type[ControlTowerError], int], ...] = (
    (SignatureError, 401),
    (PayloadTooLarge, 413),
    (UnsupportedMediaType, 415),
    (MalformedPayload, 400),
    (StoreError, 503),
    (ModelVersionNotFound, 404),
    (AlreadyLive, 409),
    (PredictionUnavailable, 503),
    (AlertNotFound, 404),
    (SilenceNotFound, 404),
    (AlertNotOpen, 409),
    (InvalidSilence, 422),
    (InvalidAcknowledgement, 422),
    (AnomalyNotFound, 404),
    (InvalidVerdict, 422),
    (UnknownCapability, 404),
)


def status_for(exc: ControlTowerError) -> int:
    """The status code for an error: its class's, or 400 for any other refused input."""
    return next((code for kind, code in _STATUS if isinstance(exc, kind)), 400)


PHRASES = {known.value: known.phrase for known in HTTPStatus}


def error_name(status: int) -> str:
    """An error's kind for a refusal with no class of its own: "NotFound", "Conflict"."""
    return PHRASES.get(status, "Error").title().replace(" ", "").replace("-", "")
