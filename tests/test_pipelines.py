"""The claims end to end on the smoke profile, through the command line."""

import json

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from infomax_tf import config as config_lib
from infomax_tf import report
from pipelines import components
from tests import cli

VERDICT_KEYS = {"claim", "supported", "profile", "dataset", "seeds",
                "experiments"}
CHECK_KEYS = {"name", "value", "threshold", "op", "passed"}


@pytest.fixture
def smoke_workdir(smoke_all):
  return smoke_all


@pytest.mark.parametrize("claim", ["1", "2", "3", "4"])
def test_verdict_schema_figures_and_report(smoke_workdir, claim):
  workdir, _ = smoke_workdir
  claim_dir = workdir / f"claim{claim}"
  verdict = json.loads((claim_dir / "verdict.json").read_text())
  assert set(verdict) == VERDICT_KEYS
  assert verdict["claim"] == claim and verdict["profile"] == "smoke"
  assert verdict["dataset"] == "mnist5k" and verdict["seeds"] == 2
  ids = [e["id"] for e in verdict["experiments"]]
  assert ids == list(report.EXPERIMENTS_BY_CLAIM[claim])
  for experiment in verdict["experiments"]:
    assert experiment["checks"], experiment["id"]
    for check in experiment["checks"]:
      assert CHECK_KEYS <= set(check)
      assert check["passed"] in (True, False)
    assert experiment["supported"] == all(c["passed"]
                                          for c in experiment["checks"])
    for figure in experiment["figures"]:
      assert (claim_dir / figure).stat().st_size > 1000
  assert verdict["supported"] == all(e["supported"]
                                     for e in verdict["experiments"])
  report_md = (claim_dir / "report.md").read_text()
  for experiment in verdict["experiments"]:
    assert experiment["id"] in report_md
  assert json.loads((claim_dir / "baseline.json").read_text())["accuracy"] > 0.5


def test_summary_covers_every_claim(smoke_workdir):
  workdir, result = smoke_workdir
  summary = json.loads((workdir / "summary.json").read_text())
  assert [c["claim"] for c in summary["claims"]] == ["1", "2", "3", "4"]
  assert (workdir / "summary.md").exists()
  for claim in "1234":
    assert f"claim {claim}:" in result.stdout


def test_runs_write_metrics_tensorboard_and_loadable_exports(smoke_workdir):
  workdir, _ = smoke_workdir
  run_dir = workdir / "claim2" / "fig3" / "bilinear_nce" / "seed_1"
  records = [json.loads(l) for l in
             (run_dir / "metrics.jsonl").read_text().splitlines()]
  assert records[0]["step"] == 0 and records[-1]["step"] == 20
  assert list(run_dir.glob("events.out.tfevents.*"))
  model = tf.saved_model.load(str(run_dir / "export" / "g1"))
  x = np.random.default_rng(0).random((3, 392)).astype(np.float32)
  z = model.signatures["serving_default"](x=tf.constant(x))["z"]
  assert z.shape == (3, 100)
  flow = tf.saved_model.load(
      str(workdir / "claim1" / "fig1ab" / "nce" / "seed_0" / "export" / "g1"))
  codes = flow.signatures["serving_default"](x=tf.constant(x))["z"]
  back = flow.signatures["inverse"](z=codes)["x"]
  np.testing.assert_allclose(back, x, atol=1e-4)


def test_rerun_is_served_from_the_cache_and_force_reruns(smoke_workdir):
  workdir, _ = smoke_workdir
  records_dir = workdir / "claim2" / components.RECORDS_DIR
  stamps = {p.name: p.stat().st_mtime_ns for p in records_dir.iterdir()}
  verdict = (workdir / "claim2" / "verdict.json").read_text()
  again = cli.run_main("--claim=2", "--profile=smoke", f"--workdir={workdir}")
  assert again.returncode == 0, again.stderr[-3000:]
  assert "fig3/train/bilinear_nce/seeds_0-1: up to date" in again.stderr
  changed = [p.name for p in records_dir.iterdir()
             if p.stat().st_mtime_ns != stamps[p.name]]
  assert changed == ["data.json"]  # Data is always re-read; nothing trains.
  assert (workdir / "claim2" / "verdict.json").read_text() == verdict
  forced = cli.run_main("--claim=2", "--profile=smoke", f"--workdir={workdir}",
                    "--force")
  assert forced.returncode == 0, forced.stderr[-3000:]
  assert "fig3/train/bilinear_nce/seeds_0-1: running" in forced.stderr
  # Same seeds, same machine: the forced rerun reproduces the verdict.
  assert (workdir / "claim2" / "verdict.json").read_text() == verdict


def test_explicit_flags_override_the_profile(tmp_path):
  result = cli.run_main("--claim=2", "--profile=smoke", "--fig3_steps=10",
                    "--fig3_evals=1", "--seeds=1", "--fig3_critics=bilinear",
                    "--bounds=nce", "--noexport", f"--workdir={tmp_path}")
  assert result.returncode == 0, result.stderr[-3000:]
  config = json.loads((tmp_path / "claim2" / "fig3" / "bilinear_nce" /
                       "seed_0" / "config.json").read_text())
  assert config["steps"] == 10 and config["n_evals"] == 1
  assert config["batch_size"] == 64  # From the smoke profile.
  assert not (tmp_path / "claim2" / "fig3" / "bilinear_nce" / "seed_0" /
              "export").exists()
  # Configurations that were not asked for are absent, and say so.
  verdict = json.loads((tmp_path / "claim2" / "verdict.json").read_text())
  assert verdict["supported"] is False


def _smoke_settings(workdir, **overrides):
  values = dict(profile="smoke", seeds=1, batch_size=64, eval_batch_size=50,
                fig3_learning_rate=3e-4, fig4ab_learning_rate=3e-4,
                fig3_steps=6, fig3_evals=1,
                fig4ab_steps=6, fig4ab_evals=1, export=False,
                workdir=str(workdir))
  values.update(overrides)
  return config_lib.Settings(**values)


@pytest.mark.parametrize("claim", ["2", "3"])
def test_cifar10_halves_through_mocked_tfds(tmp_path, claim):
  import pipelines  # pylint: disable=g-import-not-at-top
  settings = _smoke_settings(
      tmp_path, data=config_lib.DataConfig(dataset="cifar10"))
  with tfds.testing.mock_data(num_examples=100):
    verdict, = pipelines.run_claims(claim, settings)
  assert verdict["dataset"] == "cifar10"
  experiment = report.EXPERIMENTS_BY_CLAIM[claim][0]
  config_name = "bilinear_nce" if claim == "2" else "convnet_nce_t2"
  run_dir = tmp_path / f"claim{claim}" / experiment / config_name / "seed_0"
  records = [json.loads(l) for l in
             (run_dir / "metrics.jsonl").read_text().splitlines()]
  assert records[-1]["step"] == 6
  data_record = json.loads(
      (tmp_path / f"claim{claim}" / ".stages" / "data.json").read_text())
  assert data_record["result"]["view_dim"] == 16 * 32 * 3
