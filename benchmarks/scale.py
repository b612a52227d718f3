"""Dashboard and API latency on a history of a million runs, beside the same queries in SQL.

Two sub-commands:

    python -m benchmarks.scale generate --database-url URL [--runs 1000000] [--end 2026-11-01]
    python -m benchmarks.scale measure --database-url URL [--requests 30]

How the history is made (``generate``). No distribution is invented: the
history is the three real datasets of ``shared/datasets/runs`` imported
several times, each time as another set of repositories. Copy ``k`` (0, 1,
2, ...) renames every repository ``owner/name`` to ``owner-k/name`` (copy 0
keeps the real names) and offsets integer run ids by ``k * 10**12`` (string
ids get a ``-k`` suffix). Each repository of each copy is moved in time as a
whole: every timestamp of its runs, jobs and steps is shifted by the same
amount, so that its newest run lands at the end date minus a jitter of 0 to
72 hours drawn from a hash of (copy, repository). The real gaps between runs,
their durations, outcomes, branches, commits and jobs are kept as they were;
only where a repository's history sits on the calendar changes. The
datasets' repositories end their histories at different densities (a Travis
project's last month holds anywhere from none to hundreds of builds), so the
last 30 days get the mixed load of a busy installation rather than a uniform
one. A repository found in two datasets (``psf/requests``: Travis builds
and GitHub Actions runs) is shifted per dataset, so its two histories
overlap in time, as after a move between CI systems; six copies therefore
hold 1,242 repositories, not 1,248. As many copies are made as it takes to
reach ``--runs`` (six copies, 1,186,392 runs, for a million).

The shifted copies are written as interchange-format JSON Lines under
``/work/scale/runs/end-DATE/`` (a file is written once and reused) and
imported with the product's importer (``ingest.transfer.import_files``, the
code path of ``controltower import``), timed per file. Both the files and
the import are idempotent: re-running with the same arguments stores
nothing new. Use a fresh database for another ``--end``.

How it is measured (``measure``). A real ``controltower serve --no-worker
--no-migrate`` process is started on a free port against the database
(``--src DIR`` runs it from another source folder, e.g. a ``git archive`` of
a commit, through ``PYTHONPATH``). Targets come from the database: the
busiest repository in the default 30-day window, its busiest workflow, the
busiest repository by jobs, the newest run that has jobs and one of its
jobs. Every page and API endpoint is requested once to warm up, then
``--requests`` times one after another (a URL stops early once ``--budget``
seconds have passed, after at least three requests, or one if a single
request takes a sixth of the budget), and p50/p95/max of the client-side
latency are reported, with the server's own time from its
``Server-Timing: app;dur=<ms>`` header when it sends one. Pages that answer
404 are reported as not available.

The reference for each URL is the same figures computed by aggregate SQL
sent straight through the driver (sqlite3 or psycopg, no SQLAlchemy), timed
the same way: counts, success and failure counts, success-duration and queue
percentiles per group and per day for the window and the one before, billed
minutes per repository, workflow and day, deployment-workflow runs with the
first run on their commit, failing default branches, recent-run lists.
PostgreSQL computes percentiles with ``percentile_cont``; SQLite, which has
none, numbers the rows of each group with window functions and takes the
row at the percentile's rank (rounded down). The reference neither
deduplicates re-run attempts nor counts flaky commits nor renders anything,
so it is a lower bound for what the page needs from the database, not an
exact equivalent.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import math
import re
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
from sqlalchemy import Engine, func, select

from controltower.ingest.transfer import import_files
from controltower.store import schema
from controltower.store.engine import make_engine, reading
from controltower.store.tables import Job, Repository, Workflow, WorkflowRun, table_of
from tests.support.paths import DATASETS

SCALE = Path("/work/scale")
SOURCES = (
    "travis-builds-2021.jsonl.gz",
    "gha-microservices-5repos.jsonl.gz",
    "gha-flask-requests-django-petclinic.jsonl.gz",
)
RUN_ID_OFFSET = 10**12
JITTER_HOURS = 72
RUN_TIMES = ("created_at", "started_at", "completed_at")
WINDOWS = (7, 30, 90, 365)
SUCCESS_WITH_DURATION = "c = 'success' AND v IS NOT NULL"

runs_t, jobs_t = table_of(WorkflowRun), table_of(Job)
repos_t, workflows_t = table_of(Repository), table_of(Workflow)


# --- generate -------------------------------------------------------------------------------


def _stamp(value: str | None) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _shifted(value: str | None, shift: timedelta) -> str | None:
    moment = _stamp(value)
    return None if moment is None else (moment + shift).astimezone(UTC).isoformat()


def _records(path: Path) -> Iterator[dict[str, Any]]:
    with gzip.open(path, "rb") as handle:
        for line in handle:
            if line.strip():
                yield orjson.loads(line)


def _newest_per_repository(path: Path) -> tuple[dict[str, datetime], int]:
    """Each repository's newest run timestamp, and how many records the file has."""
    newest: dict[str, datetime] = {}
    count = 0
    for record in _records(path):
        count += 1
        stamps = [s for s in (_stamp(record.get(k)) for k in RUN_TIMES) if s is not None]
        if stamps:
            repo = record["repository"]
            top = max(stamps)
            if repo not in newest or top > newest[repo]:
                newest[repo] = top
    return newest, count


def copy_name(repository: str, k: int) -> str:
    """The repository's name in copy ``k``: ``owner-k/name`` (copy 0 keeps the real name)."""
    if k == 0:
        return repository
    owner, slash, rest = repository.partition("/")
    return f"{owner}-{k}/{rest}" if slash else f"{repository}-{k}"


def _jitter(k: int, repository: str) -> timedelta:
    digest = hashlib.sha256(f"{k}:{repository}".encode()).digest()
    fraction = int.from_bytes(digest[:8], "big") / 2**64
    return timedelta(seconds=round(fraction * JITTER_HOURS * 3600))


def _copy_record(record: dict[str, Any], k: int, shift: timedelta | None) -> dict[str, Any]:
    out = dict(record)
    out["repository"] = copy_name(record["repository"], k)
    run_id = record["run_id"]
    if k:
        is_int = isinstance(run_id, int) or (isinstance(run_id, str) and run_id.isdigit())
        out["run_id"] = int(run_id) + k * RUN_ID_OFFSET if is_int else f"{run_id}-{k}"
    if shift is None:
        return out
    for key in RUN_TIMES:
        if out.get(key):
            out[key] = _shifted(out[key], shift)
    if out.get("jobs"):
        jobs = []
        for original in out["jobs"]:
            job = dict(original)
            for key in ("created_at", *RUN_TIMES[1:]):
                if job.get(key):
                    job[key] = _shifted(job[key], shift)
            if job.get("steps"):
                job["steps"] = [
                    {
                        **step,
                        **{
                            key: _shifted(step[key], shift)
                            for key in ("started_at", "completed_at")
                            if step.get(key)
                        },
                    }
                    for step in job["steps"]
                ]
            jobs.append(job)
        out["jobs"] = jobs
    return out


def write_copies(end: datetime, copies: int) -> list[Path]:
    """The shifted copies of every dataset as files (written once, reused afterwards)."""
    folder = SCALE / "runs" / f"end-{end.date().isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for source in SOURCES:
        src = DATASETS / source
        stem = source.removesuffix(".jsonl.gz")
        targets = [folder / f"{stem}.copy{k}.jsonl.gz" for k in range(copies)]
        paths.extend(targets)
        missing = [(k, t) for k, t in enumerate(targets) if not t.exists()]
        if not missing:
            continue
        newest, _ = _newest_per_repository(src)
        for k, target in missing:
            shifts = {repo: end - _jitter(k, repo) - top for repo, top in newest.items()}
            tmp = target.with_suffix(".tmp")
            with gzip.open(tmp, "wb", compresslevel=3) as out:
                for record in _records(src):
                    shift = shifts.get(record["repository"])
                    out.write(orjson.dumps(_copy_record(record, k, shift)) + b"\n")
            tmp.rename(target)
            print(f"wrote {target}", file=sys.stderr)
    return paths


def history_shape(engine: Engine) -> dict[str, Any]:
    """Runs, repositories, jobs, and runs per window ending at the newest run."""
    with engine.connect() as raw:
        conn = reading(raw)
        newest = conn.execute(select(func.max(runs_t.c.created_at))).scalar_one()

        def count(table: Any) -> int:
            return int(conn.execute(select(func.count()).select_from(table)).scalar_one())

        shape: dict[str, Any] = {
            "runs": count(runs_t),
            "repositories": count(repos_t),
            "workflows": count(workflows_t),
            "jobs": count(jobs_t),
            "newest_run": newest.isoformat() if newest else None,
        }
        for days in WINDOWS:
            since = newest - timedelta(days=days)
            shape[f"runs_last_{days}d"] = int(
                conn.execute(
                    select(func.count()).select_from(runs_t).where(runs_t.c.created_at > since)
                ).scalar_one()
            )
            shape[f"repos_last_{days}d"] = int(
                conn.execute(
                    select(func.count(func.distinct(runs_t.c.repository_id))).where(
                        runs_t.c.created_at > since
                    )
                ).scalar_one()
            )
    return shape


def generate(url: str, runs: int, end: datetime) -> None:
    """Write the shifted copies, import them, and print the import times and history shape."""
    per_copy = sum(_newest_per_repository(DATASETS / s)[1] for s in SOURCES)
    copies = max(1, math.ceil(runs / per_copy))
    print(f"{per_copy} runs per copy, {copies} copies", file=sys.stderr)
    paths = write_copies(end, copies)
    engine = make_engine(url)
    schema.upgrade(engine)
    rows = []
    try:
        for path in paths:
            start = time.perf_counter()
            report = import_files(engine, [path])
            seconds = time.perf_counter() - start
            rows.append((path.name, report.records, report.stored, report.rejected, seconds))
            print(
                f"imported {path.name}: {report.records} records, {report.stored} stored, "
                f"{report.rejected} rejected, {seconds:.1f} s",
                file=sys.stderr,
            )
        shape = history_shape(engine)
    finally:
        engine.dispose()
    total_s = sum(r[4] for r in rows)
    total_records = sum(r[1] for r in rows)
    print(f"## Import into {url.split(':', 1)[0]}\n")
    print("| file | records | stored | rejected | seconds | runs/s |")
    print("|---|---|---|---|---|---|")
    for name, records, stored, rejected, seconds in rows:
        print(
            f"| {name} | {records} | {stored} | {rejected} | {seconds:.1f} "
            f"| {records / seconds:.0f} |"
        )
    print(
        f"| total | {total_records} | {sum(r[2] for r in rows)} | {sum(r[3] for r in rows)} "
        f"| {total_s:.1f} | {total_records / total_s:.0f} |"
    )
    print("\n## History\n")
    print("| runs | repositories | workflows | jobs | newest run |")
    print("|---|---|---|---|---|")
    print(
        f"| {shape['runs']} | {shape['repositories']} | {shape['workflows']} | {shape['jobs']} "
        f"| {shape['newest_run']} |"
    )
    print("\n| window (before newest run) | runs | repositories with runs |")
    print("|---|---|---|")
    for days in WINDOWS:
        print(f"| {days} days | {shape[f'runs_last_{days}d']} | {shape[f'repos_last_{days}d']} |")
    print(orjson.dumps({"import_seconds": round(total_s, 1), **shape}).decode())


# --- measure: targets -----------------------------------------------------------------------


def _window(conn: Any, days: int) -> tuple[datetime, datetime]:
    """The pages' default window: ``days`` before the newest run (or now, if earlier)."""
    newest = conn.execute(select(func.max(runs_t.c.created_at))).scalar_one()
    end = min(datetime.now(UTC), newest + timedelta(seconds=1))
    return end - timedelta(days=days), end


def pick_targets(engine: Engine) -> dict[str, Any]:
    """The busiest repository of the 30-day window, its busiest workflow, a recent run with jobs."""
    with engine.connect() as raw:
        conn = reading(raw)
        start, end = _window(conn, 30)
        in_window = (runs_t.c.created_at >= start, runs_t.c.created_at < end)
        repo_id, full_name, repo_runs = conn.execute(
            select(repos_t.c.id, repos_t.c.full_name, func.count())
            .join(runs_t, runs_t.c.repository_id == repos_t.c.id)
            .where(*in_window)
            .group_by(repos_t.c.id, repos_t.c.full_name)
            .order_by(func.count().desc())
            .limit(1)
        ).one()
        workflow_id, workflow, workflow_runs = conn.execute(
            select(workflows_t.c.id, workflows_t.c.name, func.count())
            .join(runs_t, runs_t.c.workflow_id == workflows_t.c.id)
            .where(runs_t.c.repository_id == repo_id, *in_window)
            .group_by(workflows_t.c.id, workflows_t.c.name)
            .order_by(func.count().desc())
            .limit(1)
        ).one()
        with_jobs = conn.execute(
            select(repos_t.c.id, repos_t.c.full_name, func.count())
            .join(runs_t, runs_t.c.repository_id == repos_t.c.id)
            .join(jobs_t, jobs_t.c.run_pk == runs_t.c.id)
            .where(*in_window)
            .group_by(repos_t.c.id, repos_t.c.full_name)
            .order_by(func.count().desc())
            .limit(1)
        ).one()
        run = conn.execute(
            select(runs_t.c.id, runs_t.c.run_id, repos_t.c.full_name)
            .join(repos_t, repos_t.c.id == runs_t.c.repository_id)
            .where(runs_t.c.id.in_(select(jobs_t.c.run_pk).distinct()), runs_t.c.created_at < end)
            .order_by(runs_t.c.created_at.desc())
            .limit(1)
        ).one()
        job_pk, job_count = conn.execute(
            select(func.min(jobs_t.c.id), func.count()).where(jobs_t.c.run_pk == run.id)
        ).one()
    return {
        "window": (start, end),
        "repository_id": repo_id,
        "repository": full_name,
        "repository_runs_30d": repo_runs,
        "workflow_id": workflow_id,
        "workflow": workflow,
        "workflow_runs_30d": workflow_runs,
        "jobs_repository_id": with_jobs[0],
        "jobs_repository": with_jobs[1],
        "jobs_repository_jobs_30d": with_jobs[2],
        "run_pk": run.id,
        "run_id": run.run_id,
        "run_repository": run.full_name,
        "run_jobs": job_count,
        "job_pk": job_pk,
    }


def _repo_path(full_name: str) -> str:
    owner, _, name = full_name.partition("/")
    return f"/repositories/{quote(owner, safe='')}/{quote(name, safe='')}"


def targets_urls(t: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(URL, reference kind, reference arguments) for every page and endpoint measured."""
    repo = _repo_path(t["repository"])
    run_repo = _repo_path(t["run_repository"])
    jobs_repo = _repo_path(t["jobs_repository"])
    rid, wid = t["repository_id"], t["workflow_id"]
    return [
        ("/", "overview", {"days": 30}),
        ("/?days=365", "overview", {"days": 365}),
        (repo, "repository", {"days": 30, "repo": rid}),
        (f"{repo}?days=365", "repository", {"days": 365, "repo": rid}),
        (jobs_repo, "repository", {"days": 30, "repo": t["jobs_repository_id"]}),
        (f"{repo}/workflows/{wid}", "workflow", {"days": 30, "workflow": wid}),
        (f"{run_repo}/runs/{t['run_id']}", "run", {"run": t["run_pk"]}),
        (f"{run_repo}/runs/{t['run_id']}/jobs/{t['job_pk']}", "job", {"job": t["job_pk"]}),
        ("/dora", "dora", {"days": 30}),
        ("/cost", "cost", {"days": 30}),
        ("/api/v1/metrics?group_by=repository", "metrics", {"days": 30}),
        ("/api/v1/cost", "cost", {"days": 30}),
        ("/api/v1/dora", "dora", {"days": 30}),
        ("/api/v1/runs", "runs", {}),
    ]


# --- measure: the reference SQL -------------------------------------------------------------


class Reference:
    """The pages' figures computed by aggregate SQL straight through the database driver."""

    FAILED = "('failure', 'timed_out', 'startup_failure')"

    def __init__(self, url: str) -> None:
        if url.startswith("sqlite"):
            import sqlite3  # noqa: PLC0415

            path = url.split(":///", 1)[1]
            self.dialect = "sqlite"
            self.conn: Any = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        else:
            import psycopg  # noqa: PLC0415

            conninfo = re.sub(r"^postgresql\+\w+://", "postgresql://", url)
            self.dialect = "postgresql"
            self.conn = psycopg.connect(conninfo, autocommit=True)

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    def _q(self, sql: str, **params: Any) -> list[Any]:
        if self.dialect == "sqlite":
            params = {
                k: v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
                if isinstance(v, datetime)
                else v
                for k, v in params.items()
            }
        else:
            sql = re.sub(r"(?<![:\w]):([a-z_]\w*)", r"%(\1)s", sql)
        cur = self.conn.execute(sql, params)
        rows: list[Any] = cur.fetchall()
        cur.close()
        return rows

    # dialect pieces
    def _day(self, col: str) -> str:
        if self.dialect == "sqlite":
            return f"substr({col}, 1, 10)"
        return f"(({col}) AT TIME ZONE 'UTC')::date"

    def _seconds(self, later: str, earlier: str) -> str:
        if self.dialect == "sqlite":
            return f"((julianday({later}) - julianday({earlier})) * 86400.0)"
        return f"extract(epoch FROM ({later}) - ({earlier}))"

    def window(self, days: int) -> tuple[datetime, datetime]:
        """The default window, as the app computes it: newest run plus a second."""
        newest = self._q("SELECT max(created_at) FROM workflow_runs")[0][0]
        if isinstance(newest, str):
            newest = datetime.fromisoformat(newest).replace(tzinfo=UTC)
        end = min(datetime.now(UTC), newest + timedelta(seconds=1))
        return end - timedelta(days=days), end

    def group_stats(
        self,
        group: str,
        start: datetime,
        end: datetime,
        where: str = "",
        jobs: bool = False,
        **params: Any,
    ) -> list[Any]:
        """Attempts, runs, passed, failed, and success-duration p50/p90/p95 and queue p50/p95
        per group, for runs (or their jobs) created in [start, end)."""
        if jobs:
            value = self._seconds("j.completed_at", "j.started_at")
            conclusion, key = "j.conclusion", "r.id || '#' || j.name"
            queue = self._seconds("j.started_at", "j.created_at")
            source = "JOIN jobs j ON j.run_pk = r.id"
        else:
            value, conclusion, key = "r.duration_s", "r.conclusion", "r.run_id"
            queue = self._seconds("r.started_at", "r.created_at")
            source = ""
        base = (
            f"SELECT {group} AS g, {key} AS k, {conclusion} AS c, {value} AS v, {queue} AS q "
            "FROM workflow_runs r JOIN repositories p ON p.id = r.repository_id "
            f"JOIN workflows w ON w.id = r.workflow_id {source} "
            f"WHERE r.created_at >= :start AND r.created_at < :end {where}"
        )
        if self.dialect == "postgresql":
            sql = (
                f"WITH base AS ({base}) SELECT g, count(*), count(DISTINCT k), "
                "count(*) FILTER (WHERE c = 'success'), "
                f"count(*) FILTER (WHERE c IN {self.FAILED}), "
                + ", ".join(
                    f"percentile_cont({q}) WITHIN GROUP (ORDER BY v) FILTER (WHERE c = 'success')"
                    for q in (0.5, 0.9, 0.95)
                )
                + ", "
                + ", ".join(
                    f"percentile_cont({q}) WITHIN GROUP (ORDER BY q) FILTER (WHERE q >= 0)"
                    for q in (0.5, 0.95)
                )
                + " FROM base GROUP BY g"
            )
            return self._q(sql, start=start, end=end, **params)

        def ranked(column: str, keep: str) -> str:
            picks = ", ".join(
                f"max(CASE WHEN rn = 1 + CAST((n - 1) * {q} AS INTEGER) THEN {column} END)"
                for q in ((0.5, 0.9, 0.95) if column == "v" else (0.5, 0.95))
            )
            return (
                f"SELECT g, {picks} FROM (SELECT g, {column}, "
                f"row_number() OVER (PARTITION BY g ORDER BY {column}) AS rn, "
                f"count(*) OVER (PARTITION BY g) AS n FROM base WHERE {keep}) GROUP BY g"
            )

        sql = (
            f"WITH base AS MATERIALIZED ({base}), "
            "agg AS (SELECT g, count(*) AS attempts, count(DISTINCT k) AS runs, "
            f"sum(c = 'success') AS passed, sum(c IN {self.FAILED}) AS failed "
            "FROM base GROUP BY g), "
            f"dur AS ({ranked('v', SUCCESS_WITH_DURATION)}), "
            f"que AS ({ranked('q', 'q >= 0')}) "
            "SELECT * FROM agg LEFT JOIN dur USING (g) LEFT JOIN que USING (g)"
        )
        return self._q(sql, start=start, end=end, **params)

    def recent_runs(self, limit: int, where: str = "", **params: Any) -> list[Any]:
        """The newest run attempts with repository and workflow names."""
        return self._q(
            "SELECT r.id, p.full_name, w.name, r.run_id, r.attempt, r.conclusion, r.created_at, "
            "r.duration_s FROM workflow_runs r JOIN repositories p ON p.id = r.repository_id "
            "JOIN workflows w ON w.id = r.workflow_id "
            f"WHERE r.created_at IS NOT NULL {where} "
            "ORDER BY r.created_at DESC, r.id DESC LIMIT :limit",
            limit=limit,
            **params,
        )

    def cost(self, start: datetime, end: datetime) -> list[Any]:
        """Billed minutes per repository, workflow and day: whole minutes per job, or per run
        (its duration) where no jobs are known."""
        job_minutes = (
            f"(SELECT sum(CAST(({self._seconds('j.completed_at', 'j.started_at')} + 59.999) / 60 "
            "AS INTEGER)) FROM jobs j WHERE j.run_pk = r.id AND j.started_at IS NOT NULL)"
        )
        return self._q(
            f"SELECT p.full_name, w.name, {self._day('r.created_at')} AS day, "
            f"sum(coalesce({job_minutes}, CAST((coalesce(r.duration_s, 0) + 59.999) / 60 "
            "AS INTEGER))) FROM workflow_runs r JOIN repositories p ON p.id = r.repository_id "
            "JOIN workflows w ON w.id = r.workflow_id "
            "WHERE r.created_at >= :start AND r.created_at < :end GROUP BY 1, 2, 3",
            start=start,
            end=end,
        )

    def dora(self, start: datetime, end: datetime) -> list[Any]:
        """Deployment-workflow runs on the default branches, with when CI first saw the commit."""
        return self._q(
            "SELECT r.id, r.conclusion, r.completed_at, (SELECT min(f.created_at) "
            "FROM workflow_runs f WHERE f.repository_id = r.repository_id "
            "AND f.head_sha = r.head_sha) FROM workflow_runs r "
            "JOIN workflows w ON w.id = r.workflow_id "
            "WHERE r.created_at >= :start AND r.created_at < :end "
            "AND r.branch IN ('main', 'master') AND r.conclusion IS NOT NULL "
            "AND (lower(w.name) LIKE :p1 OR lower(w.name) LIKE :p2 OR lower(w.name) LIKE :p3)",
            start=start,
            end=end,
            p1="%deploy%",
            p2="%release%",
            p3="%publish%",
        )

    def failing_branches(self, start: datetime, end: datetime) -> list[Any]:
        """Workflows whose latest decided run on a default branch failed (the problems list)."""
        branch = "branch IN ('main', 'master')"
        decided = f"('success', {self.FAILED[1:]}"
        return self._q(
            "SELECT r.workflow_id, r.run_id, r.conclusion, r.created_at FROM workflow_runs r "
            "JOIN (SELECT workflow_id, max(created_at) AS latest FROM workflow_runs "
            f"WHERE created_at >= :start AND created_at < :end AND {branch} "
            f"AND conclusion IN {decided} GROUP BY workflow_id) l "
            "ON l.workflow_id = r.workflow_id AND l.latest = r.created_at "
            f"WHERE r.{branch} AND r.conclusion IN {self.FAILED} ORDER BY r.created_at DESC",
            start=start,
            end=end,
        )

    def page(self, kind: str, days: int = 30, **ids: Any) -> None:
        """Everything the page (or endpoint) of ``kind`` needs, as SQL."""
        start, end = self.window(days)  # every page shows its window, run and job pages too
        previous = start - (end - start)
        if kind == "overview":
            self.group_stats("''", start, end)
            self.group_stats(self._day("r.created_at"), start, end)
            self.group_stats("p.full_name", start, end)
            self.group_stats("p.full_name", previous, start)
            self.cost(start, end)
            self.dora(start, end)
            self.failing_branches(start, end)
            self.recent_runs(20)
            self.recent_runs(25)
            self._q("SELECT state, count(*) FROM deliveries GROUP BY state")
            self._q("SELECT max(received_at) FROM deliveries")
        elif kind == "repository":
            where, repo = "AND r.repository_id = :repo", ids["repo"]
            self.group_stats(self._day("r.created_at"), start, end, where, repo=repo)
            for w_start, w_end in ((start, end), (previous, start)):
                self.group_stats("w.name", w_start, w_end, where, repo=repo)
                self.group_stats("w.name || j.name", w_start, w_end, where, jobs=True, repo=repo)
            self.recent_runs(20, where, repo=repo)
        elif kind == "workflow":
            where, workflow = "AND r.workflow_id = :workflow", ids["workflow"]
            self.group_stats(self._day("r.created_at"), start, end, where, workflow=workflow)
            for w_start, w_end in ((start, end), (previous, start)):
                self.group_stats("j.name", w_start, w_end, where, jobs=True, workflow=workflow)
            self.recent_runs(20, where, workflow=workflow)
        elif kind == "run":
            self._q("SELECT * FROM workflow_runs WHERE id = :run", run=ids["run"])
            self._q("SELECT * FROM jobs WHERE run_pk = :run ORDER BY id", run=ids["run"])
            self._q(
                "SELECT s.* FROM steps s JOIN jobs j ON j.id = s.job_pk WHERE j.run_pk = :run "
                "ORDER BY s.job_pk, s.number",
                run=ids["run"],
            )
        elif kind == "job":
            self._q("SELECT * FROM jobs WHERE id = :job", job=ids["job"])
            self._q("SELECT * FROM steps WHERE job_pk = :job ORDER BY number", job=ids["job"])
        elif kind == "dora":
            self.dora(start, end)
        elif kind == "cost":
            self.cost(start, end)
        elif kind == "metrics":
            self.group_stats("p.full_name", start, end)
            self.group_stats("p.full_name", previous, start)
        elif kind == "runs":
            self.recent_runs(50)
        else:
            raise ValueError(kind)


# --- measure: timing ------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile by linear interpolation."""
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def timed(call: Callable[[], Any], requests: int, budget: float) -> list[float]:
    """Milliseconds of ``requests`` calls after one warm-up (fewer when ``budget`` s run out)."""
    begin = time.monotonic()
    call()
    warm_up = time.monotonic() - begin
    # Three samples at least, unless a single call takes a sixth of the budget.
    least = 3 if warm_up < budget / 6 else 1
    samples: list[float] = []
    deadline = begin + budget
    while len(samples) < requests and (len(samples) < least or time.monotonic() < deadline):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


SERVER_TIMING = re.compile(r"app;\s*dur=([\d.]+)")


def _measure_path(client: Any, path: str, requests: int, budget: float) -> dict[str, Any]:
    started = time.perf_counter()
    first = client.get(path)
    first_ms = (time.perf_counter() - started) * 1000
    if first.status_code != 200:
        print(f"{path}: {first.status_code}", file=sys.stderr)
        return {"status": first.status_code}
    server: list[float] = []
    statuses: set[int] = set()

    def call() -> None:
        response = client.get(path)
        statuses.add(response.status_code)
        match = SERVER_TIMING.search(response.headers.get("server-timing", ""))
        if match:
            server.append(float(match.group(1)))

    samples = timed(call, requests, budget)
    print(
        f"{path}: n={len(samples)} p50={percentile(samples, 50):.0f} ms "
        f"p95={percentile(samples, 95):.0f} ms",
        file=sys.stderr,
    )
    return {
        "status": 200 if statuses == {200} else sorted(statuses),
        "samples": samples,
        "server": server[-len(samples) :] if server else [],
        "bytes": len(first.content),
        "first": first_ms,
    }


def measure_server(
    start: Callable[[], Any], paths: list[str], requests: int, budget: float
) -> dict[str, dict[str, Any]]:
    """Client latency and server time of each path, requested one at a time.

    ``start()`` starts a server and returns its process; should the server go away in the
    middle (another process on a shared machine may end it), it is started again once per
    path and the path measured from the start.
    """
    import httpx  # noqa: PLC0415

    results: dict[str, dict[str, Any]] = {}
    process = start()
    try:
        for path in paths:
            for attempt in range(2):
                try:
                    with httpx.Client(base_url=process.url, timeout=900) as client:
                        results[path] = _measure_path(client, path, requests, budget)
                    break
                except httpx.TransportError as exc:
                    print(f"{path}: {exc!r}; restarting the server", file=sys.stderr)
                    process.stop()
                    process = start()
                    if attempt:
                        results[path] = {"status": "server gone"}
    finally:
        process.stop()
    return results


def measure(
    url: str,
    requests: int,
    budget: float,
    only: str | None,
    src: str | None,
    view_ttl: float | None = None,
) -> None:
    """Start ``serve`` on ``url``, time every page and endpoint, then the reference SQL.

    ``src``: run the server from this source folder (the ``src`` of, say, a ``git archive``
    of a commit) instead of the installed package. ``view_ttl``: the server's
    ``telemetry.view_ttl_s`` (0: figures computed on every request).
    """
    from tests.support.server import cli_env, start_server  # noqa: PLC0415

    engine = make_engine(url)
    try:
        targets = pick_targets(engine)
    finally:
        engine.dispose()
    urls = targets_urls(targets)
    if only:
        urls = [u for u in urls if re.search(only, u[0])]
    print(f"targets: {targets}", file=sys.stderr)
    log = SCALE / f"serve-{url.split(':', 1)[0].split('+', 1)[0]}.log"
    env = cli_env(database_url=url, github__webhook_secret="scale-benchmark")  # noqa: S106
    if view_ttl is not None:
        env["CONTROLTOWER_TELEMETRY__VIEW_TTL_S"] = str(view_ttl)
    if src:
        env["PYTHONPATH"] = str(Path(src).resolve())
    served = measure_server(
        lambda: start_server(env, log, "--no-worker", "--no-migrate"),
        [u for u, _, _ in urls],
        requests,
        budget,
    )
    reference = Reference(url)
    refs: dict[tuple[str, str], list[float]] = {}
    try:
        for _, kind, args in urls:
            key = (kind, repr(sorted(args.items())))
            if key not in refs:
                refs[key] = timed(_page_call(reference, kind, args), requests, budget)
                print(
                    f"reference {kind} {args}: p95={percentile(refs[key], 95):.0f} ms",
                    file=sys.stderr,
                )
    finally:
        reference.close()
    print(f"server code: {src or 'installed package (working tree)'}")
    print(f"telemetry.view_ttl_s: {'default (60)' if view_ttl is None else view_ttl}\n")
    _print_measurements(url, targets, urls, served, refs)


def _page_call(reference: Reference, kind: str, args: dict[str, Any]) -> Callable[[], None]:
    return lambda: reference.page(kind, **args)


def _fmt(values: list[float], q: float | None = None) -> str:
    if not values:
        return "–"
    value = max(values) if q is None else percentile(values, q)
    return f"{value:.1f}" if value < 10 else f"{value:.0f}"


def _print_measurements(
    url: str,
    targets: dict[str, Any],
    urls: list[tuple[str, str, dict[str, Any]]],
    served: dict[str, dict[str, Any]],
    refs: dict[tuple[str, str], list[float]],
) -> None:
    start, end = targets["window"]
    print(f"## {url.split(':', 1)[0]}: pages and API, milliseconds\n")
    print(
        f"Window {start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M} UTC. Busiest repository "
        f"`{targets['repository']}` ({targets['repository_runs_30d']} runs in 30 days), its "
        f"busiest workflow `{targets['workflow']}` (id {targets['workflow_id']}, "
        f"{targets['workflow_runs_30d']} runs); run {targets['run_id']} of "
        f"`{targets['run_repository']}` ({targets['run_jobs']} jobs), job {targets['job_pk']}; "
        f"busiest repository by jobs `{targets['jobs_repository']}` "
        f"({targets['jobs_repository_jobs_30d']} jobs in 30 days).\n"
    )
    print(
        "| URL | first request | n | p50 | p95 | max | server p95 "
        "| reference SQL p50 | reference SQL p95 |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    rows = []
    for path, kind, args in urls:
        ref = refs[(kind, repr(sorted(args.items())))]
        result = served[path]
        shown = path
        if "samples" not in result:
            status = result["status"]
            status = "not available (404)" if status == 404 else f"HTTP {status}"
            print(f"| `{shown}` | – | – | {status} | | | | {_fmt(ref, 50)} | {_fmt(ref, 95)} |")
            rows.append({"url": path, "status": result["status"]})
            continue
        samples, server = result["samples"], result["server"]
        note = "" if result["status"] == 200 else f" (HTTP {result['status']})"
        print(
            f"| `{shown}`{note} | {_fmt([result['first']])} | {len(samples)} "
            f"| {_fmt(samples, 50)} | {_fmt(samples, 95)} "
            f"| {_fmt(samples)} | {_fmt(server, 95)} | {_fmt(ref, 50)} | {_fmt(ref, 95)} |"
        )
        rows.append(
            {
                "url": path,
                "first": round(result["first"], 1),
                "n": len(samples),
                "p50": round(percentile(samples, 50), 1),
                "p95": round(percentile(samples, 95), 1),
                "max": round(max(samples), 1),
                "server_p95": round(percentile(server, 95), 1) if server else None,
                "reference_p95": round(percentile(ref, 95), 1),
            }
        )
    print()
    print(orjson.dumps({"database": url.split(":", 1)[0], "rows": rows}).decode())


# --- command line ---------------------------------------------------------------------------


def main() -> None:
    """``generate`` or ``measure``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    gen = commands.add_parser("generate", help="write the shifted copies and import them")
    gen.add_argument("--database-url", required=True)
    gen.add_argument("--runs", type=int, default=1_000_000)
    gen.add_argument("--end", default="2026-11-01", help="date the newest runs land near (UTC)")
    mes = commands.add_parser("measure", help="time pages and API against a running server")
    mes.add_argument("--database-url", required=True)
    mes.add_argument("--requests", type=int, default=30)
    mes.add_argument("--budget", type=float, default=60.0, help="seconds per URL at most")
    mes.add_argument("--only", default=None, help="regex: measure only the matching URLs")
    mes.add_argument("--src", default=None, help="source folder to run the server from")
    mes.add_argument(
        "--view-ttl",
        type=float,
        default=None,
        help="the server's telemetry.view_ttl_s (0: figures computed on every request)",
    )
    args = parser.parse_args()
    if args.command == "generate":
        end = datetime.fromisoformat(args.end)
        end = end if end.tzinfo else end.replace(tzinfo=UTC)
        generate(args.database_url, args.runs, end)
    else:
        measure(args.database_url, args.requests, args.budget, args.only, args.src, args.view_ttl)


if __name__ == "__main__":
    main()
