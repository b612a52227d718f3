"""``controltower anomaly``: detect on a CSV series, evaluate on a database."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from controltower.anomaly.evaluation import _room
from controltower.anomaly.sources import load_series
from controltower.anomaly.tuning import Tuning
from controltower.cli.app import app
from controltower.store.anomalies import record
from controltower.store.engine import make_engine
from tests.support.server import cli_env, run_cli

T0 = datetime(2025, 3, 1, tzinfo=UTC)


def _csv(path: Path, values: np.ndarray) -> Path:
    rows = ["timestamp,value"] + [
        f"{(T0 + timedelta(minutes=5 * i)).isoformat()},{v:.3f}" for i, v in enumerate(values)
    ]
    path.write_text("\n".join(rows) + "\n")
    return path


def test_detect_prints_each_anomaly_with_time_kind_severity_and_score(tmp_path: Path) -> None:
    """A latency series with one spike and a later lasting rise gives both, as JSON."""
    values = 80 + np.random.default_rng(2).normal(0, 4, 400)
    values[120] = 200
    values[300:] += 30
    result = CliRunner().invoke(
        app, ["anomaly", "detect", str(_csv(tmp_path / "l.csv", values)), "--json"]
    )
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)["anomalies"]
    assert [(a["kind"], a["timestamp"][:16]) for a in found][:1] == [("spike", "2025-03-01T10:00")]
    assert any(a["kind"] == "level_shift" for a in found)
    assert all({"timestamp", "kind", "severity", "score"} <= a.keys() for a in found)


def test_detect_with_a_least_change_leaves_out_what_falls_short_of_it(tmp_path: Path) -> None:
    """Latency of 80 ms: a spike to 200 (+120) and a rise of 30 ms are told; with
    ``--min-change 50`` only the spike, with 150 neither; a negative floor is refused."""
    values = 80 + np.random.default_rng(2).normal(0, 4, 400)
    values[120] = 200
    values[300:] += 30
    path = _csv(tmp_path / "l.csv", values)

    def kinds(*extra: str) -> list[str]:
        result = CliRunner().invoke(app, ["anomaly", "detect", str(path), "--json", *extra])
        assert result.exit_code == 0, result.output
        return sorted({a["kind"] for a in json.loads(result.stdout)["anomalies"]})

    assert kinds() == ["level_shift", "spike"]
    assert kinds("--min-change", "50") == ["spike"]
    assert kinds("--min-change", "150") == []
    refused = CliRunner().invoke(app, ["anomaly", "detect", str(path), "--min-change", "-1"])
    assert refused.exit_code == 2


def test_detect_with_a_lower_least_share_tells_a_smaller_lasting_change(tmp_path: Path) -> None:
    """Latency of 80 ms rising by 12 ms (15 %): under the default quarter, told at a tenth."""
    values = 80 + np.random.default_rng(5).normal(0, 1, 400)
    values[300:] += 12
    path = _csv(tmp_path / "l.csv", values)

    def changes(*extra: str) -> list[str]:
        result = CliRunner().invoke(app, ["anomaly", "detect", str(path), "--json", *extra])
        assert result.exit_code == 0, result.output
        found = json.loads(result.stdout)["anomalies"]
        return [a["kind"] for a in found if a["kind"] in ("level_shift", "drift")]

    assert changes() == []
    assert changes("--min-relative", "0.1") == ["level_shift"]
    refused = CliRunner().invoke(app, ["anomaly", "detect", str(path), "--min-relative", "-0.1"])
    assert refused.exit_code == 2


def test_detect_gives_the_timestamps_back_as_the_file_wrote_them(tmp_path: Path) -> None:
    """`YYYY-MM-DD HH:MM:SS` without a zone comes back so, not as ISO 8601 with +00:00."""
    values = 80 + np.random.default_rng(2).normal(0, 4, 400)
    values[120] = 200
    rows = ["timestamp,value"] + [
        f"{(T0 + timedelta(minutes=5 * i)).strftime('%Y-%m-%d %H:%M:%S')},{v:.3f}"
        for i, v in enumerate(values)
    ]
    path = tmp_path / "plain.csv"
    path.write_text("\n".join(rows) + "\n")
    result = CliRunner().invoke(app, ["anomaly", "detect", str(path), "--json"])
    assert result.exit_code == 0, result.output
    [spike] = [a for a in json.loads(result.stdout)["anomalies"] if a["kind"] == "spike"]
    assert (spike["timestamp"], spike["start"]) == ("2025-03-01 10:00:00", "2025-03-01 10:00:00")


def test_detect_on_rows_newest_first_dates_each_anomaly_at_its_own_row(tmp_path: Path) -> None:
    """An export listing the newest row first: the spike keeps its own timestamp, and a row
    without a value is a counted gap."""
    values = 80 + np.random.default_rng(2).normal(0, 4, 400)
    values[120] = 200
    rows = [f"{(T0 + timedelta(minutes=5 * i)).isoformat()},{v:.3f}" for i, v in enumerate(values)]
    rows[200] = rows[200].split(",")[0] + ","
    path = tmp_path / "newest-first.csv"
    path.write_text("time,latency\n" + "\n".join(reversed(rows)) + "\n")
    result = CliRunner().invoke(app, ["anomaly", "detect", str(path), "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert (document["points"], document["missing"]) == (399, 1)
    [spike] = [a for a in document["anomalies"] if a["kind"] == "spike"]
    assert spike["timestamp"] == spike["start"] == (T0 + timedelta(minutes=5 * 120)).isoformat()


def test_detect_finds_an_incident_in_a_mostly_zero_error_count(tmp_path: Path) -> None:
    """Errors per five minutes, zero most of the time: thirty at once is a critical spike."""
    values = np.random.default_rng(4).poisson(0.1, 500).astype(float)
    values[400] = 30.0
    result = CliRunner().invoke(
        app, ["anomaly", "detect", str(_csv(tmp_path / "errors.csv", values)), "--json"]
    )
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)["anomalies"]
    assert [(a["kind"], a["severity"], a["timestamp"][:16]) for a in found] == [
        ("spike", "critical", (T0 + timedelta(minutes=5 * 400)).isoformat()[:16])
    ]
    assert found[0]["score"] > 6


def test_detect_told_which_way_is_bad_leaves_the_other_way_out(tmp_path: Path) -> None:
    """Errors per five minutes that stop for five hours: with the meaning not known a
    critical fall; with ``--bad up`` (more errors are bad) nothing; a word not offered is
    bad usage."""
    values = np.random.default_rng(3).poisson(50, 600).astype(float)
    values[400:460] = 0.0
    path = _csv(tmp_path / "errors.csv", values)
    unknown = CliRunner().invoke(app, ["anomaly", "detect", str(path), "--json"])
    assert unknown.exit_code == 0, unknown.output
    first = json.loads(unknown.stdout)["anomalies"][0]
    assert (first["kind"], first["severity"]) == ("level_shift", "critical")
    up = CliRunner().invoke(app, ["anomaly", "detect", str(path), "--json", "--bad", "up"])
    assert up.exit_code == 0, up.output
    assert json.loads(up.stdout)["anomalies"] == []
    wrong = CliRunner().invoke(app, ["anomaly", "detect", str(path), "--bad", "sideways"])
    assert wrong.exit_code == 2
    assert "sideways" in wrong.stderr


def test_detect_table_names_the_columns(tmp_path: Path) -> None:
    """Without --json a table with timestamp, kind, severity and score is printed."""
    values = 80 + np.random.default_rng(2).normal(0, 4, 200)
    values[120] = 200
    result = CliRunner().invoke(app, ["anomaly", "detect", str(_csv(tmp_path / "l.csv", values))])
    assert result.exit_code == 0
    for word in ("timestamp", "kind", "severity", "score", "spike"):
        assert word in result.stdout
    assert "200 points, 1 anomaly" in result.stderr  # counts of one are singular


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("timestamp,value\n2025-01-01T00:00:00Z,abc\n", "line 2: 'abc' is not a number"),
        ("timestamp,value\nyesterday,1\n", "line 2: 'yesterday' is not a timestamp"),
        ("2025-01-01T00:00:00Z,1,2\n", "line 1: expected 2 columns"),
        ("timestamp,value\n", "no points"),
        ("1700000000,inf\n", "not a finite number"),
    ],
)
def test_detect_refuses_bad_input_with_status_2(tmp_path: Path, text: str, reason: str) -> None:
    """A row that is not timestamp,value stops the command with its line and exit status 2."""
    path = tmp_path / "bad.csv"
    path.write_text(text)
    result = CliRunner().invoke(app, ["anomaly", "detect", str(path)])
    assert result.exit_code == 2
    assert reason in result.stderr


def test_detect_on_a_missing_file_exits_2(tmp_path: Path) -> None:
    """A file that cannot be read is bad input too."""
    result = CliRunner().invoke(app, ["anomaly", "detect", str(tmp_path / "none.csv")])
    assert result.exit_code == 2
    assert "cannot read" in result.stderr


def test_evaluate_json_has_the_interface_shape_and_is_repeatable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """evaluate --json has the spec's overall and per_kind figures, the same for the same seed."""
    monkeypatch.setenv("CONTROLTOWER_DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite'}")
    monkeypatch.setenv("CONTROLTOWER_DATA_DIR", str(tmp_path))
    sample = files("controltower.data") / "demo-runs.jsonl.gz"
    runner = CliRunner()
    assert runner.invoke(app, ["import", str(sample)]).exit_code == 0
    first = runner.invoke(app, ["anomaly", "evaluate", "--json", "--seed", "3"])
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)
    assert set(report["per_kind"]) == {"spike", "level_shift", "drift", "failure_burst"}
    for figures in [report["overall"], *report["per_kind"].values()]:
        assert {"recall", "false_alarm_share", "injected", "alarms"} <= set(figures)
        assert figures["alarms"] == figures["true_alarms"] + figures["false_alarms"]
        if figures["alarms"]:
            share = figures["false_alarms"] / figures["alarms"]
            assert figures["false_alarm_share"] == pytest.approx(share)
    overall = report["overall"]
    assert overall["injected"] == sum(k["injected"] for k in report["per_kind"].values())
    assert overall["injected"] > 0
    per_metric = report["per_metric"]
    assert set(per_metric) <= set(report["series"])
    for name in ("injected", "recalled", "found", "true_alarms", "false_alarms"):
        assert overall[name] == sum(m[name] for m in per_metric.values())
    assert overall["recalled"] <= overall["found"] <= overall["injected"]
    assert 0 <= overall["recall"] <= 1
    assert overall["recalled"] > 0
    assert 0 <= overall["delay_median"] <= overall["delay_p90"]
    stops = report["stops"]  # apart from the spec's kinds and overall
    assert stops["recalled"] <= stops["injected"]
    assert set(report["stored_kinds"]) == set(report["shuffled_kinds"]) == set(report["series"])
    table = runner.invoke(app, ["anomaly", "evaluate", "--seed", "3"], env={"COLUMNS": "300"})
    assert f"{overall['delay_median']:.0f} / {overall['delay_p90']:.0f}" in table.stdout
    assert "without injection: the series as stored, and shuffled" in table.stdout
    clear = report["clear_of_stored"]["overall"]  # a part of overall, told apart
    assert 0 <= clear["recalled"] <= clear["injected"] <= overall["injected"]
    assert "clear of the stored series' own changes" in table.stdout
    again = runner.invoke(app, ["anomaly", "evaluate", "--json", "--seed", "3"])
    assert json.loads(again.stdout) == report
    # the configured floor is the evaluated one: at an hour, no stored duration changes
    monkeypatch.setenv("CONTROLTOWER_ANOMALY__MIN_CHANGE_SECONDS", "3600")
    floored = json.loads(
        runner.invoke(app, ["anomaly", "evaluate", "--json", "--seed", "3"]).stdout
    )
    assert sum(report["stored_kinds"]["duration"].values()) > 0
    assert floored["stored_kinds"]["duration"] == {}


def test_verdicts_from_the_cli_and_evaluate_leaves_confirmed_anomalies_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """list shows recorded anomalies; confirm, dismiss and retract set and clear a verdict;
    evaluate counts the confirmed anomaly of a judged series as known to be present."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    monkeypatch.setenv("CONTROLTOWER_DATABASE_URL", url)
    monkeypatch.setenv("CONTROLTOWER_DATA_DIR", str(tmp_path))
    runner = CliRunner()
    sample = files("controltower.data") / "demo-runs.jsonl.gz"
    assert runner.invoke(app, ["import", str(sample)]).exit_code == 0
    engine = make_engine(url)
    with engine.begin() as conn:
        judged = next(
            s
            for s in load_series(conn, rate=lambda _sku, _day: 0.008)
            if s.metric == "duration"
            and _room(Tuning(), len(s.points), False)[0] < len(s.points) // 2
        )
        at = judged.points[len(judged.points) // 2].timestamp
        row = {
            "series": judged.name,
            "metric": "duration",
            "unit": "s",
            "kind": "level_shift",
            "severity": "warning",
            "started_at": at,
            "detected_at": at,
            "expected": 60.0,
            "observed": 90.0,
            "score": 9.0,
            "usd_per_month": None,
            "trigger": None,
        }
        record(conn, [row], datetime.now(UTC))
    engine.dispose()

    listed = json.loads(runner.invoke(app, ["anomaly", "list", "--json"]).stdout)
    assert [(a["series"], a["verdict"]) for a in listed] == [(judged.name, None)]
    anomaly_id = str(listed[0]["id"])
    before = json.loads(runner.invoke(app, ["anomaly", "evaluate", "--json", "--seed", "3"]).stdout)
    assert before["known"] == dict.fromkeys(before["series"], 0)

    dismissed = runner.invoke(app, ["anomaly", "dismiss", anomaly_id, "--by", "ana", "--json"])
    assert json.loads(dismissed.stdout)["verdict"] == "dismissed"
    retracted = runner.invoke(app, ["anomaly", "retract", anomaly_id])
    assert retracted.exit_code == 0
    assert "has no verdict" in retracted.stdout
    confirmed = runner.invoke(
        app, ["anomaly", "confirm", anomaly_id, "--by", "ana", "--note", "new tests"]
    )
    assert confirmed.exit_code == 0, confirmed.output
    assert "confirmed by ana" in confirmed.stdout
    after = json.loads(runner.invoke(app, ["anomaly", "evaluate", "--json", "--seed", "3"]).stdout)
    assert after["known"]["duration"] == 1
    overall, plain = after["overall"], before["overall"]
    assert overall["false_alarms"] == plain["false_alarms"] - overall["known_present"]
    assert overall["recalled"] == plain["recalled"]

    nobody = runner.invoke(app, ["anomaly", "confirm", anomaly_id, "--by", " "])
    assert nobody.exit_code == 2
    assert "say who" in nobody.output
    env = cli_env(data_dir=str(tmp_path), database_url=url)
    missing = run_cli("anomaly", "dismiss", "999", "--json", env=env)
    assert (missing.returncode, missing.stdout) == (1, "")
    assert "no anomaly 999" in missing.stderr
    still = json.loads(runner.invoke(app, ["anomaly", "list", "--json"]).stdout)
    assert (still[0]["verdict"], still[0]["verdict_note"]) == ("confirmed", "new tests")
    for verdict, count in (("confirmed", 1), ("dismissed", 0), ("none", 0)):
        chosen = runner.invoke(app, ["anomaly", "list", "--json", "--verdict", verdict])
        assert len(json.loads(chosen.stdout)) == count, verdict
    assert (
        json.loads(runner.invoke(app, ["anomaly", "list", "--json", "--offset", "1"]).stdout) == []
    )
    assert runner.invoke(app, ["anomaly", "list", "--verdict", "maybe"]).exit_code == 2


def test_record_runs_a_pass_and_with_history_records_the_past_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """record: what is going on; --history: also what is over, as resolved, once."""
    monkeypatch.setenv("CONTROLTOWER_DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite'}")
    monkeypatch.setenv("CONTROLTOWER_DATA_DIR", str(tmp_path))
    runner = CliRunner()
    sample = files("controltower.data") / "demo-runs.jsonl.gz"
    assert runner.invoke(app, ["import", str(sample)]).exit_code == 0
    now = json.loads(runner.invoke(app, ["anomaly", "record", "--json"]).stdout)
    assert now["past"] == 0
    listed = json.loads(runner.invoke(app, ["anomaly", "list", "--json", "--limit", "1000"]).stdout)
    assert len(listed) == now["seen"]
    assert all(a["resolved_at"] is None for a in listed)
    history = json.loads(runner.invoke(app, ["anomaly", "record", "--history", "--json"]).stdout)
    assert (history["seen"], history["new"]) == (now["seen"], 0)
    assert history["past"] > 0
    again = runner.invoke(app, ["anomaly", "record", "--history"])
    assert again.exit_code == 0
    assert f"{now['seen']} anomalies going on (0 new, 0 resolved); 0 of the past" in again.stdout
    everything = json.loads(
        runner.invoke(app, ["anomaly", "list", "--json", "--limit", "1000"]).stdout
    )
    assert len(everything) == now["seen"] + history["past"]
    assert sum(a["resolved_at"] is not None for a in everything) == history["past"]


def test_record_tells_no_change_of_seconds_under_the_configured_floor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``anomaly.min_change_seconds`` at 0 the demo's history holds changes of queue times
    and durations of a few seconds; at the default of ten none is recorded, and what is
    recorded of the others is the same."""
    monkeypatch.setenv("CONTROLTOWER_DATA_DIR", str(tmp_path))
    sample = files("controltower.data") / "demo-runs.jsonl.gz"
    recorded = {}
    for floor in ("0", "10"):
        monkeypatch.setenv("CONTROLTOWER_DATABASE_URL", f"sqlite:///{tmp_path / floor}.sqlite")
        monkeypatch.setenv("CONTROLTOWER_ANOMALY__MIN_CHANGE_SECONDS", floor)
        runner = CliRunner()
        assert runner.invoke(app, ["import", str(sample)]).exit_code == 0
        assert runner.invoke(app, ["anomaly", "record", "--history"]).exit_code == 0
        listed = runner.invoke(app, ["anomaly", "list", "--json", "--limit", "1000"]).stdout
        recorded[floor] = json.loads(listed)
    timed = ("duration", "queue", "job_duration")

    def small(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            a for a in found if a["metric"] in timed and abs(a["observed"] - a["expected"]) < 10
        ]

    assert small(recorded["0"])
    assert small(recorded["10"]) == []

    def others(found: list[dict[str, Any]]) -> set[tuple[str, str, str, str]]:
        return {
            (a["series"], a["metric"], a["kind"], a["started_at"])
            for a in found
            if a["metric"] not in timed
        }

    assert others(recorded["0"]) == others(recorded["10"])
