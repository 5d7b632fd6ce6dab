"""Command-line tests: python -m infomax_tf.main in a subprocess."""

import json
import os
import subprocess
import sys

import pytest

from tests import conftest


def run_main(*args, cwd=None):
  env = dict(os.environ, INFOMAX_OFFLINE="1", TF_CPP_MIN_LOG_LEVEL="3")
  return subprocess.run([sys.executable, "-m", "infomax_tf.main", *args],
                        capture_output=True, text=True, env=env,
                        cwd=cwd or conftest.REPO_ROOT, timeout=300)


def test_helpfull_lists_the_flags():
  result = run_main("--helpfull")  # absl exits 1 after printing help.
  assert "Traceback" not in result.stderr
  for flag in ("--claim", "--profile", "--workdir", "--seeds", "--dataset",
               "--data_dir", "--view", "--[no]baseline"):
    assert flag in result.stdout


def test_baseline_prints_and_writes_the_record(tmp_path):
  workdir = tmp_path / "runs"
  result = run_main("--baseline", f"--workdir={workdir}")
  assert result.returncode == 0, result.stderr
  record = json.loads((workdir / "baseline.json").read_text())
  assert {"dataset", "view", "n_train", "n_test", "accuracy"} <= set(record)
  # The quick profile (the default) runs on the embedded MNIST-5k.
  assert record["dataset"] == "mnist5k"
  assert (record["n_train"], record["n_test"]) == (4000, 1000)
  assert 0.75 <= record["accuracy"] <= 0.85
  assert f"accuracy {record['accuracy']:.4f}" in result.stdout


def test_explicit_flags_override_the_profile(tmp_path):
  # --profile=paper sets --dataset=mnist; the explicit flag wins, and the
  # idx dataset without --data_dir fails with a one-line error naming it.
  result = run_main("--baseline", "--profile=paper", "--dataset=idx",
                    f"--workdir={tmp_path}")
  assert result.returncode != 0
  assert "infomax_tf: error: dataset 'idx' needs" in result.stderr
  assert "Traceback" not in result.stderr


@pytest.mark.parametrize("flag,message", [
    ("--claim=7", "value should be one of"),
    ("--profile=huge", "value should be one of"),
    ("--dataset=svhn", "value should be one of"),
    ("--view=diagonal", "value should be one of"),
    ("--runner=spark", "value should be one of"),
    ("--seeds=0", "0 is not a positive integer"),
    ("--flagfile=/nonexistent.flags", "nonexistent.flags"),
])
def test_bad_flags_exit_with_usage(flag, message):
  result = run_main(flag)
  assert result.returncode != 0
  assert message in result.stderr


def test_no_action_is_a_usage_error():
  result = run_main()
  assert result.returncode != 0
  assert "--claim" in result.stderr


def test_workdir_that_is_a_file_is_a_clean_error(tmp_path):
  target = tmp_path / "file"
  target.write_text("precious")
  result = run_main("--baseline", f"--workdir={target}")
  assert result.returncode == 1
  assert "is not a directory" in result.stderr
  assert target.read_text() == "precious"
