"""Tests for infomax_tf.fileio: atomic artifacts and workdir checks."""

import os

import pytest

from infomax_tf import errors
from infomax_tf import fileio


def test_write_json_round_trips_and_leaves_no_temporaries(tmp_path):
  path = str(tmp_path / "a.json")
  fileio.write_json(path, {"b": 1, "a": [1.5, "x"]})
  assert fileio.read_json(path) == {"a": [1.5, "x"], "b": 1}
  fileio.write_json(path, {"c": 2})
  assert fileio.read_json(path) == {"c": 2}
  assert os.listdir(tmp_path) == ["a.json"]


def test_failed_write_keeps_the_old_file(tmp_path):
  path = str(tmp_path / "a.json")
  fileio.write_json(path, {"ok": True})
  with pytest.raises(TypeError):
    fileio.write_json(path, {"bad": object()})  # Not JSON-serialisable.
  assert fileio.read_json(path) == {"ok": True}
  assert os.listdir(tmp_path) == ["a.json"]


def test_workdir_that_is_a_file(tmp_path):
  path = tmp_path / "file"
  path.write_text("keep me")
  with pytest.raises(errors.WorkdirError, match="not a directory"):
    fileio.ensure_writable_dir(str(path))
  assert path.read_text() == "keep me"


def test_unwritable_workdir():
  # /proc refuses new entries even to root, which CI machines often are.
  with pytest.raises(errors.WorkdirError, match="not writable"):
    fileio.ensure_writable_dir("/proc/infomax_tf_runs")


def test_unwritable_workdir_under_a_file(tmp_path):
  (tmp_path / "f").write_text("")
  with pytest.raises(errors.WorkdirError):
    fileio.ensure_writable_dir(str(tmp_path / "f" / "runs"))


def test_workdir_is_created(tmp_path):
  path = str(tmp_path / "x" / "y")
  assert fileio.ensure_writable_dir(path) == path
  assert os.path.isdir(path) and os.listdir(path) == []
