"""A history as it stood at a moment (``records.as_of``)."""

from __future__ import annotations

from dataclasses import replace

from controltower.intelligence.records import HistoryRun, as_of, request_order


def _run(run_id: str, created: float | None, started: float, completed: float) -> HistoryRun:
    return HistoryRun(
        repository="o/r",
        run_id=run_id,
        conclusion="failure",
        created=created,
        started=started,
        completed=completed,
        duration_s=completed - started,
    )


def test_a_history_as_it_stood_holds_what_was_requested_and_known_by_then() -> None:
    """Requested later: left out. Ended by then: as stored. Started, not ended: in progress,
    with no outcome, end or duration. Not started: queued, no start either. No request time:
    left out, since when it ran is not known. The runs given are not changed."""
    runs = [
        _run("done", 0.0, 5.0, 50.0),
        _run("running", 60.0, 65.0, 500.0),
        _run("waiting", 90.0, 200.0, 300.0),
        _run("later", 150.0, 155.0, 160.0),
        _run("unknown", None, 5.0, 10.0),
    ]
    kept = list(runs)
    then = {r.run_id: r for r in as_of(runs, 100.0)}
    assert set(then) == {"done", "running", "waiting"}
    assert then["done"] == runs[0]
    assert then["running"] == replace(
        runs[1], status="in_progress", conclusion=None, completed=None, duration_s=None
    )
    assert then["running"].failed is None
    assert then["waiting"] == replace(
        runs[2], status="queued", conclusion=None, started=None, completed=None, duration_s=None
    )
    assert runs == kept
    assert as_of(runs, 50.0)[0] == runs[0]  # ended at the moment itself: known
    assert [r.run_id for r in as_of(runs, 1000.0)] == ["done", "running", "waiting", "later"]


def test_runs_requested_at_once_are_ordered_by_id_numbers_first_whatever_the_ids_are() -> None:
    """Ids that are numbers go by their value (9 before 10), then the others by their text;
    a character that is a digit but no number ("²") is text, not a crash."""
    ids = ["10", "9", "²", "abc", "０３", "007"]
    ordered = request_order([_run(i, 0.0, 1.0, 2.0) for i in ids])
    assert [r.run_id for r in ordered] == ["０３", "007", "9", "10", "abc", "²"]
