"""Tests for the InfoMax training engine (tiny models, toy data)."""

import glob
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import tensorflow as tf

from infomax_tf import errors
from infomax_tf import tracking
from infomax_tf import train
from tests import conftest
from tests import toy

TIMING_KEYS = ("train_seconds", "eval_seconds", "compile_seconds",
               "seed_steps_per_sec")


def small_config(**overrides):
  values = dict(encoder=train.EncoderConfig("mlp", layer_sizes=(32, 16)),
                critic="bilinear", bound="nce", steps=120, n_evals=3,
                batch_size=64, eval_batch_size=128, learning_rate=3e-3)
  values.update(overrides)
  return train.TrainConfig(**values)


def run(tmp_path, config, seeds=(0,), views=None, name="run"):
  views = views or toy.cluster_views()
  root = tmp_path / name
  return train.train_and_evaluate(
      config, views, list(seeds),
      [str(root / f"seed_{s}") for s in seeds], str(root / "checkpoints"))


def without_timing(records):
  return [{k: v for k, v in r.items() if k not in TIMING_KEYS}
          for r in records]


@pytest.mark.parametrize("bound", ["nce", "nwj"])
def test_training_raises_the_mi_estimate(tmp_path, bound):
  records = run(tmp_path, small_config(bound=bound))[0]
  assert records[-1]["test_mi"] > records[0]["test_mi"] + 0.5
  assert records[-1]["accuracy"] > 0.6  # 4 classes: chance is 0.25.


def test_target_loss_drives_the_estimate_to_t(tmp_path):
  config = small_config(target=1.0, steps=300)
  records = run(tmp_path, config)[0]
  assert abs(records[-1]["test_mi"] - 1.0) < 0.25
  # Without a target the same model goes well past t.
  free = run(tmp_path, small_config(steps=300), name="free")[0]
  assert free[-1]["test_mi"] > 1.5


def test_records_have_every_field_and_a_step_zero_entry(tmp_path):
  records = run(tmp_path, small_config(jacobian=True))[0]
  assert [r["step"] for r in records] == [0, 40, 80, 120]
  for key in ("test_mi", "test_loss", "train_mi", "train_loss", "accuracy",
              "log_kappa_p50", "log_kappa_p90", "train_seconds",
              "eval_seconds"):
    assert records[0][key] is not None or key == "train_seconds", key
  assert records[0]["running_loss"] is None  # No training before step 0.
  assert records[1]["running_loss"] is not None
  run_dir = tmp_path / "run" / "seed_0"
  assert tracking.read_records(str(run_dir)) == records
  config = tracking.fileio.read_json(str(run_dir / tracking.CONFIG_FILE))
  assert config["seed"] == 0 and config["steps"] == 120
  assert (run_dir / tracking.RESULT_FILE).exists()


def test_invertible_encoders_record_the_inverse_error(tmp_path):
  config = small_config(
      encoder=train.EncoderConfig("realnvp", num_couplings=2,
                                  hidden_sizes=(16,)), steps=20, n_evals=1)
  records = run(tmp_path, config)[0]
  assert all(r["inverse_error"] < 1e-4 for r in records)


def _event_tags(run_dir):
  tags = set()
  for path in glob.glob(os.path.join(run_dir, "events.out.tfevents.*")):
    for event in tf.compat.v1.train.summary_iterator(path):
      for value in event.summary.value:
        tags.add(value.tag)
  return tags


def test_tensorboard_events_hold_the_expected_tags(tmp_path):
  run(tmp_path, small_config(jacobian=True, steps=40, n_evals=1))
  tags = _event_tags(str(tmp_path / "run" / "seed_0"))
  for tag in ("test/I_EST", "train/I_EST", "probe/accuracy",
              "diagnostics/log_kappa_p50", "perf/seed_steps_per_sec",
              "codes/test_z1", "diagnostics/jacobian_singular_values",
              "data/view_pairs", "_hparams_/session_start_info"):
    assert tag in tags, tag


def test_same_seed_gives_identical_metrics(tmp_path):
  a = run(tmp_path, small_config(noise_sd=0.1), name="a")[0]
  b = run(tmp_path, small_config(noise_sd=0.1), name="b")[0]
  c = run(tmp_path, small_config(noise_sd=0.1), seeds=(1,), name="c")[0]
  assert without_timing(a) == without_timing(b)
  assert without_timing(a) != without_timing(c)


def test_seeds_trained_together_equal_seeds_trained_alone(tmp_path):
  together = run(tmp_path, small_config(), seeds=(0, 1), name="together")
  alone = run(tmp_path, small_config(), seeds=(1,), name="alone")[0]
  for key in ("test_mi", "train_mi", "accuracy"):
    np.testing.assert_allclose([r[key] for r in together[1]],
                               [r[key] for r in alone], atol=1e-4)


def test_completed_runs_are_not_retrained(tmp_path):
  first = run(tmp_path, small_config())[0]
  metrics = tmp_path / "run" / "seed_0" / tracking.METRICS_FILE
  mtime = metrics.stat().st_mtime_ns
  again = run(tmp_path, small_config())[0]
  assert again == first
  assert metrics.stat().st_mtime_ns == mtime


def test_non_finite_loss_stops_with_a_clear_error(tmp_path, monkeypatch):
  # A training bound that turns NaN from step 51 on; evaluation stays finite.
  calls = tf.Variable(0, dtype=tf.int64)
  nce = train.estimators.infonce_lower_bound

  def failing_bound(scores):
    calls.assign_add(1)
    return tf.where(calls > 50, tf.constant(np.nan), nce(scores))

  monkeypatch.setattr(train.estimators, "get_estimator",
                      lambda name: failing_bound)
  monkeypatch.setattr(train.estimators, "evaluation_estimator",
                      lambda name: nce)
  with pytest.raises(errors.TrainingError,
                     match=r"non-finite loss at step 51 \(seed 0\).*last "
                     r"finite values: loss -?[\d.]+, I_EST [\d.]+ at step 50"):
    run(tmp_path, small_config())
  # The last good checkpoint (step 40's evaluation) is kept, none after it.
  state = tf.train.get_checkpoint_state(str(tmp_path / "run" / "checkpoints"))
  assert state.model_checkpoint_path.endswith("ckpt-40")
  records = tracking.read_records(str(tmp_path / "run" / "seed_0"))
  assert [r["step"] for r in records] == [0, 40]


def test_diverging_training_names_the_last_finite_values(tmp_path):
  config = small_config(learning_rate=1e9, bound="nwj", steps=200, n_evals=2)
  with pytest.raises(errors.TrainingError,
                     match=r"last finite values: loss .* at step \d+"):
    run(tmp_path, config)


@pytest.mark.parametrize("overrides,message", [
    (dict(steps=0), "steps must be >= 1"),
    (dict(n_evals=200), "n_evals must be in"),
    (dict(batch_size=1), "batch size must be >= 2"),
    (dict(batch_size=100000), "exceeds"),
    (dict(target=5.0, batch_size=64), "cannot be reached"),
    (dict(bound="mine"), "Unknown estimator"),
    (dict(critic="deep"), "Unknown critic"),
    (dict(encoder=train.EncoderConfig("mlp_skip", layer_sizes=(8, 4))),
     "encoder mlp_skip"),
])
def test_bad_configurations_are_rejected(tmp_path, overrides, message):
  with pytest.raises(errors.ConfigError, match=message):
    run(tmp_path, small_config(**overrides))


_JOB = textwrap.dedent("""
    import sys
    sys.path.insert(0, {root!r})
    from tests import test_train, toy
    from infomax_tf import train
    import pathlib
    test_train.run(pathlib.Path({tmp!r}), test_train.small_config(
        steps=400, n_evals=8, noise_sd=0.1), name={name!r})
""")


def _start_job(tmp_path, name):
  script = tmp_path / f"{name}.py"
  script.write_text(_JOB.format(root=conftest.REPO_ROOT, tmp=str(tmp_path),
                                name=name))
  return subprocess.Popen([sys.executable, str(script)],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          env=dict(os.environ, PYTHONPATH=conftest.REPO_ROOT))


def test_sigkill_and_resume_equals_an_uninterrupted_run(tmp_path):
  job = _start_job(tmp_path, "killed")
  checkpoints = tmp_path / "killed" / "checkpoints"
  deadline = time.time() + 240
  # Kill mid-run: the newest checkpoint is of step 150 to 350, so training
  # goes on. (A range, not one file: only the last two are kept.)
  def mid_run():
    steps = [int(p.name[len("ckpt-"):-len(".index")])
             for p in checkpoints.glob("ckpt-*.index")]
    return bool(steps) and 150 <= max(steps) <= 350

  while not mid_run():
    assert job.poll() is None, job.stderr.read().decode()[-2000:]
    assert time.time() < deadline, "job made no progress"
    time.sleep(0.05)
  job.send_signal(signal.SIGKILL)
  job.wait()
  assert not (tmp_path / "killed" / "seed_0" / tracking.RESULT_FILE).exists()
  resumed = _start_job(tmp_path, "killed")
  assert resumed.wait(240) == 0, resumed.stderr.read().decode()[-2000:]
  uninterrupted = run(tmp_path, small_config(steps=400, n_evals=8,
                                             noise_sd=0.1), name="straight")[0]
  records = tracking.read_records(str(tmp_path / "killed" / "seed_0"))
  assert [r["step"] for r in records] == [r["step"] for r in uninterrupted]
  for key in ("test_mi", "train_mi", "accuracy", "running_loss"):
    np.testing.assert_allclose(
        [np.nan if r[key] is None else r[key] for r in records],
        [np.nan if r[key] is None else r[key] for r in uninterrupted],
        atol=1e-5)


def test_kpair_loss_trains_like_infonce_with_an_inner_product_critic(tmp_path):
  nce = run(tmp_path, small_config(critic="inner"), name="nce")[0]
  kpair = run(tmp_path, small_config(critic="inner", loss="kpair"),
              name="kpair")[0]
  # Equal and opposite gradients: the same trajectory up to rounding.
  np.testing.assert_allclose([r["test_mi"] for r in kpair],
                             [r["test_mi"] for r in nce], atol=1e-3)
  assert abs(kpair[-1]["accuracy"] - nce[-1]["accuracy"]) <= 1e-3
  assert kpair[-1]["train_loss"] == pytest.approx(
      np.log(128) - kpair[-1]["train_mi"], abs=1e-4)


def test_triplet_loss_learns_a_useful_code(tmp_path):
  records = run(tmp_path, small_config(critic="inner", loss="triplet"))[0]
  assert records[-1]["train_loss"] < records[0]["train_loss"]
  assert records[-1]["accuracy"] > 0.6


def test_mixed_bfloat16_trains_with_float32_weights_and_bounds(tmp_path):
  config = small_config(precision="mixed_bfloat16")
  records = run(tmp_path, config)[0]
  assert records[-1]["test_mi"] > records[0]["test_mi"] + 0.5
  trainee = train.Trainee(config, toy.cluster_views(), seed=0)
  assert all(v.dtype == "float32" for v in trainee.variables)
  assert trainee.g1(np.zeros((2, 8), np.float32)).dtype == tf.bfloat16
  # The global Keras policy is left as it was.
  assert train.keras.config.dtype_policy().name == "float32"


def test_mixed_precision_is_refused_where_it_would_blur_diagnostics(tmp_path):
  with pytest.raises(errors.ConfigError, match="mixed precision"):
    run(tmp_path, small_config(precision="mixed_bfloat16", jacobian=True))
