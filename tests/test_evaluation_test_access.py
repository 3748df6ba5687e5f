"""The test-split access log: every look recorded with checkpoint hash and purpose."""

from __future__ import annotations

import datetime as dt

import pytest

from pneumolib import config
from pneumolib.evaluation.test_access import (
    access_log_path,
    project_test_log,
    read_test_log,
    record_test_access,
    render_test_log,
)


def test_record_appends_rows_with_the_checkpoint_hash(tmp_path):
    checkpoint = tmp_path / "model.pt"
    checkpoint.write_bytes(b"weights")
    log = tmp_path / "log.csv"
    record_test_access(checkpoint, "first look", 624, log, today=dt.date(2026, 1, 2))
    record_test_access(checkpoint, "second look", 10, log)
    table = read_test_log(log)
    assert list(table["purpose"]) == ["first look", "second look"]
    assert table["sha256"].str.len().eq(64).all() and table.loc[0, "date"] == "2026-01-02"
    assert "| 2026-01-02 | model.pt |" in render_test_log(table)
    with pytest.raises(ValueError, match="why"):
        record_test_access(checkpoint, "  ", 1, log)


def test_log_location(monkeypatch, tmp_path):
    monkeypatch.delenv("PNEUMO_TEST_LOG", raising=False)
    monkeypatch.delenv("PNEUMO_PROFILE", raising=False)
    monkeypatch.setenv("PNEUMO_WORK_DIR", str(tmp_path))
    assert access_log_path() == tmp_path / "test_access_log.csv"
    assert access_log_path(project=True) == project_test_log() == config.REPOSITORY_ROOT / "docs" / "test_split_access.csv"
    monkeypatch.setenv("PNEUMO_PROFILE", "quick")
    assert access_log_path() == tmp_path / "quick" / "test_access_log.csv"  # a quick run's looks apart
    monkeypatch.setenv("PNEUMO_TEST_LOG", str(tmp_path / "x.csv"))
    assert access_log_path(project=True) == tmp_path / "x.csv"


def test_an_installed_package_has_no_project_log(monkeypatch, tmp_path):
    monkeypatch.delenv("PNEUMO_TEST_LOG", raising=False)
    monkeypatch.delenv("PNEUMO_PROFILE", raising=False)
    monkeypatch.setenv("PNEUMO_WORK_DIR", str(tmp_path / "work"))
    monkeypatch.setattr(config, "REPOSITORY_ROOT", tmp_path / "site-packages")  # no clone around the package
    assert access_log_path() == tmp_path / "work" / "test_access_log.csv"
    with pytest.raises(config.CheckoutOnly, match="docs/test_split_access.csv.*clone"):
        access_log_path(project=True)


def test_project_log_is_readable_and_names_every_look():
    table = read_test_log(project_test_log())
    assert len(table) >= 1 and table["purpose"].str.len().gt(0).all()
    assert table["images"].astype(int).gt(0).all()


def test_the_test_log_command_lists_every_look(tmp_path, monkeypatch, capsys):
    from pneumolib.cli import main
    from pneumolib.evaluation.test_access import record_test_access

    log = tmp_path / "log.csv"
    monkeypatch.setenv("PNEUMO_TEST_LOG", str(log))
    checkpoint = tmp_path / "model.pt"
    checkpoint.write_bytes(b"weights")
    record_test_access(checkpoint, "the report", 624)
    record_test_access(checkpoint, "notebook 05", 624)
    assert main(["test-log"]) == 0
    out = capsys.readouterr().out
    assert "| the report | 624 |" in out and "| notebook 05 | 624 |" in out
