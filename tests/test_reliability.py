"""Reliability: a catalogue of bad inputs, SIGKILL at chosen moments, two
processes on one workdir, non-finite data."""

import hashlib
import json
import math
import os
import signal
import time

import numpy as np
import pytest

from infomax_tf import data
from infomax_tf import errors
from infomax_tf import faults
from infomax_tf import train
from tests import cli
from tests import test_data
from tests import toy

SMOKE_CLAIM2 = ("--claim=2", "--profile=smoke")


run_main = cli.run_main


def snapshot(root) -> dict[str, str]:
  """Every file under `root` (but the lock) and a hash of its bytes."""
  files = {}
  for folder, _, names in os.walk(root):
    for name in names:
      path = os.path.join(folder, name)
      if name != ".lock":
        with open(path, "rb") as f:
          files[os.path.relpath(path, root)] = hashlib.sha256(
              f.read()).hexdigest()
  return files


@pytest.fixture(scope="module")
def populated_workdir(tmp_path_factory):
  """A workdir holding a finished (small) claim run and a pixel baseline."""
  workdir = tmp_path_factory.mktemp("populated")
  result = run_main(*SMOKE_CLAIM2, "--seeds=1", "--fig3_critics=bilinear",
                    "--bounds=nce", "--noexport", f"--workdir={workdir}")
  assert result.returncode == 0, result.stderr[-3000:]
  result = run_main("--baseline", "--profile=smoke", f"--workdir={workdir}")
  assert result.returncode == 0, result.stderr[-3000:]
  return workdir


@pytest.fixture(scope="module")
def idx_folders(tmp_path_factory):
  """Good and broken IDX folders, by name."""
  root = tmp_path_factory.mktemp("idx")
  folders = {}

  def folder(name, **kwargs):
    path = root / name
    path.mkdir()
    test_data.make_idx_folder(str(path), **kwargs)
    folders[name] = path
    return path

  os.remove(folder("missing_file") / "train-labels-idx1-ubyte")
  path = folder("bad_magic") / "train-images-idx3-ubyte"
  path.write_bytes(b"\x12\x34" + path.read_bytes()[2:])
  path = folder("truncated") / "t10k-images-idx3-ubyte"
  path.write_bytes(path.read_bytes()[:-100])
  test_data.write_idx(str(folder("count_mismatch") / "train-labels-idx1-ubyte"),
                      np.zeros(29))
  folder("odd_height", size=(27, 28))
  test_data.write_idx(str(folder("size_mismatch") / "t10k-images-idx3-ubyte"),
                      np.zeros((10, 20, 20)))
  folder("too_few_images", n_train=30, n_test=10)
  return folders


# Each bad input: (flags, a phrase the one error line must contain).
FLAG_CASES = [
    (["--claim=7"], "flag --claim=7: value should be one of"),
    (["--claim=2", "--profile=huge"], "flag --profile=huge"),
    (["--claim=2", "--dataset=svhn"], "flag --dataset=svhn"),
    (["--claim=2", "--view=diagonal"], "flag --view=diagonal"),
    (["--claim=2", "--runner=spark"], "flag --runner=spark"),
    (["--claim=2", "--bounds=mine"], "--bounds: unknown bound"),
    (["--claim=2", "--fig3_critics=deep"], "--fig3_critics: unknown critic"),
    (["--claim=2", "--seeds=0"], "flag --seeds=0"),
    (["--claim=2", "--seeds=-3"], "flag --seeds=-3"),
    (["--claim=2", "--fig3_steps=0"], "--fig3_steps must be > 0"),
    (["--claim=2", "--fig3_steps=10", "--fig3_evals=20"],
     "--fig3_evals cannot exceed --fig3_steps"),
    (["--claim=2", "--batch_size=1"], "--batch_size must be >= 2"),
    (["--claim=3", "--fig4ab_targets=2,5"],
     "I_NCE can never reach a target t >= log K"),
    (["--claim=3", "--fig4ab_targets=two"], "--fig4ab_targets must be"),
    (["--claim=2", "--fig3_learning_rate=0"],
     "--fig3_learning_rate must be > 0"),
    (["--claim=2", "--flagfile=/nonexistent/paper.flags"],
     "/nonexistent/paper.flags"),
    (["--claim=2", "stray_argument"], "unexpected arguments: stray_argument"),
]


def assert_one_clean_error(result, phrase):
  assert result.returncode != 0
  assert "Traceback" not in result.stderr
  assert phrase in result.stderr, result.stderr[-2000:]
  lines = [l for l in result.stderr.splitlines() if l.strip()]
  # The error, and at most absl's "Pass --helpshort ..." hint.
  assert len(lines) <= 2, lines


@pytest.mark.parametrize("flags,phrase", FLAG_CASES,
                         ids=[" ".join(f) for f, _ in FLAG_CASES])
def test_bad_flags(populated_workdir, flags, phrase):
  before = snapshot(populated_workdir)
  result = run_main(*flags, "--profile=smoke",
                    f"--workdir={populated_workdir}")
  assert_one_clean_error(result, phrase)
  assert snapshot(populated_workdir) == before


def test_flagfile_with_an_unknown_flag(populated_workdir, tmp_path):
  flagfile = tmp_path / "typo.flags"
  flagfile.write_text("--fig3_stepz=10\n")
  before = snapshot(populated_workdir)
  result = run_main(*SMOKE_CLAIM2, f"--flagfile={flagfile}",
                    f"--workdir={populated_workdir}")
  assert_one_clean_error(result, "fig3_stepz")
  assert snapshot(populated_workdir) == before


DATA_CASES = [
    ("nonexistent", "is not a directory"),
    ("missing_file", "has no train-labels-idx1-ubyte"),
    ("bad_magic", "bad magic number"),
    ("truncated", "IDX data truncated"),
    ("count_mismatch", "30 images but 29 labels"),
    ("odd_height", "needs an even image height"),
    ("size_mismatch", "differ in shape"),
    ("too_few_images", "--batch_size=64 exceeds the 30 training images"),
]


@pytest.mark.parametrize("name,phrase", DATA_CASES,
                         ids=[n for n, _ in DATA_CASES])
def test_bad_data(populated_workdir, idx_folders, name, phrase):
  folder = idx_folders.get(name, "/nonexistent/idx")
  before = snapshot(populated_workdir)
  result = run_main(*SMOKE_CLAIM2, "--dataset=idx", f"--data_dir={folder}",
                    f"--workdir={populated_workdir}")
  assert_one_clean_error(result, phrase)
  assert snapshot(populated_workdir) == before


def test_idx_dataset_without_a_folder(populated_workdir):
  before = snapshot(populated_workdir)
  result = run_main(*SMOKE_CLAIM2, "--dataset=idx",
                    f"--workdir={populated_workdir}")
  assert_one_clean_error(result, "dataset 'idx' needs a folder")
  assert snapshot(populated_workdir) == before


def test_the_traceback_shows_at_higher_verbosity(populated_workdir):
  result = run_main(*SMOKE_CLAIM2, "--dataset=idx", "--verbosity=1",
                    f"--workdir={populated_workdir}")
  assert result.returncode != 0
  assert "Traceback" in result.stderr and "DataError" in result.stderr


def test_workdir_that_is_a_file(tmp_path):
  target = tmp_path / "runs"
  target.write_text("precious")
  result = run_main(*SMOKE_CLAIM2, f"--workdir={target}")
  assert_one_clean_error(result, "exists and is not a directory")
  assert target.read_text() == "precious"


def test_unwritable_workdir():
  result = run_main(*SMOKE_CLAIM2, "--workdir=/proc/infomax_runs")
  assert_one_clean_error(result, "is not writable")


def test_skip_connections_need_equal_widths():
  encoder = train.EncoderConfig("mlp_skip", layer_sizes=(392, 100))
  with pytest.raises(errors.ConfigError, match="mlp_skip"):
    encoder.build(392, (14, 28, 1), seed=0)


def test_an_invertible_encoder_keeps_its_input_size():
  encoder = train.EncoderConfig("realnvp", output_dim=100, num_couplings=2,
                                hidden_sizes=(8,))
  with pytest.raises(errors.ConfigError, match="code size equals its input"):
    encoder.build(392, (14, 28, 1), seed=0)


def test_non_finite_data_is_caught_before_training(tmp_path):
  views = toy.cluster_views()
  poisoned = views.x2_test.copy()
  poisoned[3, 2] = np.nan
  poisoned[7, 0] = np.inf
  bad = data.Views(**{**views.__dict__, "x2_test": poisoned})
  config = train.TrainConfig(encoder=train.EncoderConfig("mlp",
                                                         layer_sizes=(8,)),
                             steps=2, n_evals=1, batch_size=32,
                             eval_batch_size=64)
  with pytest.raises(errors.DataError, match=r"non-finite values \(x2_test: 2"):
    train.train_and_evaluate(config, bad, [0], [str(tmp_path / "s")],
                             str(tmp_path / "c"))
  assert not os.listdir(tmp_path)  # Nothing was written.


# ---------------------------------------------------------------------------
# Two processes on one workdir.


def test_a_second_process_on_the_same_workdir_is_refused(tmp_path):
  first = cli.start_main(*SMOKE_CLAIM2, f"--workdir={tmp_path}")
  records = tmp_path / "claim2" / ".stages"
  deadline = time.time() + 300
  while not (records.exists() and len(os.listdir(records)) >= 3):
    assert first.poll() is None, first.stderr.read()[-2000:]
    assert time.time() < deadline
    time.sleep(0.1)
  second = run_main(*SMOKE_CLAIM2, f"--workdir={tmp_path}")
  assert_one_clean_error(second, "is in use by process")
  assert first.wait(600) == 0
  # Once the first is done, the workdir is free again (and fully cached).
  third = run_main(*SMOKE_CLAIM2, f"--workdir={tmp_path}")
  assert third.returncode == 0, third.stderr[-2000:]


# ---------------------------------------------------------------------------
# SIGKILL at chosen moments, then rerun: same verdict as without the kill.


@pytest.fixture(scope="module")
def reference_verdict(smoke_all):
  """Claim 2 on the smoke profile, uninterrupted."""
  return json.loads((smoke_all[0] / "claim2" / "verdict.json").read_text())


def _exists(pattern):
  def check(workdir):
    return bool(list(workdir.glob(pattern)))
  return check


KILL_POINTS = {
    # Mid-training: a checkpoint exists, the run goes on.
    "training": _exists("claim2/fig3/separable_nce/checkpoints_0-1/"
                        "ckpt-10.index"),
    # Mid-evaluation: the first evaluation record of a run was just written,
    # the others of its group are being evaluated.
    "evaluation": _exists("claim2/fig3/concat_nce/seed_0/metrics.jsonl"),
    # Mid-export: a SavedModel is staged, not yet in place. Too brief to hit
    # by polling, so the process kills itself there (faults.maybe_kill).
    "export": "self",
    # Mid-report: figures are being drawn.
    "report": _exists("claim2/figures"),
}


def _same_verdict(a, b):
  assert a["supported"] == b["supported"]
  for ea, eb in zip(a["experiments"], b["experiments"]):
    for ca, cb in zip(ea["checks"], eb["checks"]):
      assert ca["name"] == cb["name"] and ca["passed"] == cb["passed"]
      if ca["value"] is None or cb["value"] is None:
        assert ca["value"] == cb["value"]
      else:
        assert math.isclose(ca["value"], cb["value"], abs_tol=1e-5)


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_sigkill_then_rerun_gives_the_same_verdict(tmp_path, reference_verdict,
                                                   point):
  marker = tmp_path.parent / f"{tmp_path.name}.killed"
  if KILL_POINTS[point] == "self":
    job = cli.start_main(*SMOKE_CLAIM2, f"--workdir={tmp_path}",
                         **{faults.KILL_AT_ENV: point,
                            faults.MARKER_ENV: str(marker)})
    assert job.wait(300) == -signal.SIGKILL
    assert marker.read_text() == f"{point}\n"
    assert list(tmp_path.glob("claim2/**/export/.g*.tmp-*"))  # Staged.
  else:
    job = cli.start_main(*SMOKE_CLAIM2, f"--workdir={tmp_path}")
    deadline = time.time() + 300
    while not KILL_POINTS[point](tmp_path):
      assert job.poll() is None, f"finished before the kill point {point}"
      assert time.time() < deadline
      time.sleep(0.02)
    job.send_signal(signal.SIGKILL)
    job.wait()
  assert not (tmp_path / "claim2" / "verdict.json").exists() or \
      point == "report"
  rerun = run_main(*SMOKE_CLAIM2, f"--workdir={tmp_path}")
  assert rerun.returncode == 0, rerun.stderr[-3000:]
  verdict = json.loads((tmp_path / "claim2" / "verdict.json").read_text())
  _same_verdict(verdict, reference_verdict)
  # No half-written artifacts are left behind.
  assert not list(tmp_path.glob("claim2/**/export/.g*.tmp-*"))
