"""The print spool: order, durability across restarts, duplicates, quarantine."""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware_bridge.spool import Spool
from kiosk.domain.receipt import Text
from kiosk.protocol.messages import InvalidPayload, PrintJob


def _job(text: str) -> PrintJob:
    return PrintJob(receipt=[Text(text)], label=text)


def test_jobs_come_back_in_arrival_order_across_a_restart(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    jobs = [_job(str(i)) for i in range(12)]
    for job in jobs:
        spool.add(job)
    reopened = Spool(tmp_path)
    assert [Spool.load(p).id for p in reopened.pending()] == [j.id for j in jobs]
    oldest = reopened.oldest()
    assert oldest is not None
    reopened.remove(oldest)
    reopened.add(_job("late"))
    labels = [Spool.load(p).label for p in Spool(tmp_path).pending()]
    assert (labels[0], labels[-1], len(labels)) == ("1", "late", 12)


def test_a_redelivered_job_is_spooled_once(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    job = _job("x")
    assert spool.add(job) == spool.add(job)
    assert len(spool) == 1 and spool.contains(job.id)
    assert Spool(tmp_path).contains(job.id)


def test_an_unreadable_file_is_quarantined_and_its_number_never_reused(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    path = spool.add(_job("x"))
    path.write_bytes(b"{not json")
    with pytest.raises(InvalidPayload):
        Spool.load(path)
    bad = spool.quarantine(path)
    assert bad.suffix == ".bad" and bad.exists() and spool.oldest() is None
    assert Spool(tmp_path).add(_job("y")).stem > bad.stem


def test_no_temporary_file_is_left_behind(tmp_path: Path) -> None:
    Spool(tmp_path).add(_job("x"))
    assert [p.name for p in tmp_path.iterdir()] == ["000000000001.json"]


def test_printed_ids_are_remembered_across_a_restart(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    job = _job("on paper")
    spool.done(spool.add(job), job.id)
    assert spool.printed(job.id) and len(spool) == 0
    assert Spool(tmp_path).printed(job.id), "a new process must not print it again"
    assert not Spool(tmp_path).printed(_job("other").id)


def test_a_crash_between_noting_and_removing_leaves_a_job_known_as_printed(
    tmp_path: Path,
) -> None:
    spool = Spool(tmp_path)
    job = _job("x")
    path = spool.add(job)
    (tmp_path / "printed.ids").write_text(job.id + "\n")  # noted, then the power went
    reopened = Spool(tmp_path)
    assert reopened.pending() == [path] and reopened.printed(job.id)


def test_the_printed_log_stays_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import firmware_bridge.spool as spool_module

    monkeypatch.setattr(spool_module, "PRINTED_KEPT", 5)
    spool = Spool(tmp_path)
    jobs = [_job(str(i)) for i in range(12)]
    for job in jobs:
        spool.done(spool.add(job), job.id)
    lines = (tmp_path / "printed.ids").read_text().split()
    assert len(lines) <= 2 * 5 and lines[-1] == jobs[-1].id
    assert Spool(tmp_path).printed(jobs[-1].id)
