"""Tests for the adversarial stage (fig1c) on a toy problem."""

import math

import numpy as np
import pytest
import tensorflow as tf

from infomax_tf import adversarial
from infomax_tf import errors
from infomax_tf import probe
from infomax_tf import tracking
from infomax_tf import train
from tests import toy


def toy_config(**overrides):
  values = dict(
      encoder=train.EncoderConfig("realnvp_affine", num_couplings=4,
                                  hidden_sizes=(32,)),
      warmup_steps=50, iterations=150, eval_every=50,
      encoder_learning_rate=1e-3, batch_size=64, eval_batch_size=128)
  values.update(overrides)
  return adversarial.AdversarialConfig(**values)


def run(tmp_path, config, name="adv", seeds=(0,)):
  root = tmp_path / name
  return adversarial.run_adversarial(
      config, toy.cluster_views(spread=1.5), list(seeds),
      [str(root / f"seed_{s}") for s in seeds],
      [str(root / f"checkpoints_{s}") for s in seeds])


def test_uniform_cross_entropy():
  assert float(adversarial.uniform_cross_entropy(tf.zeros([3, 10]))) == (
      pytest.approx(math.log(10)))
  confident = tf.one_hot([0, 1], 10) * 50.0
  assert float(adversarial.uniform_cross_entropy(confident)) > 10


def test_adversary_lowers_accuracy_while_the_encoder_stays_invertible(
    tmp_path):
  records = run(tmp_path, toy_config())[0]
  assert [r["step"] for r in records] == [0, 50, 100, 150]
  assert records[0]["accuracy"] - records[-1]["accuracy"] >= 0.1
  assert max(r["inverse_error"] for r in records) < 1e-3


def test_interrupted_stage_resumes_to_the_same_records(tmp_path, monkeypatch):
  straight = run(tmp_path, toy_config(), name="straight")[0]
  real_probe = probe.linear_probe_accuracy
  calls = []

  def crash_on_third_evaluation(*args, **kwargs):
    calls.append(1)
    if len(calls) == 3:
      raise KeyboardInterrupt  # As if the process died mid-evaluation.
    return real_probe(*args, **kwargs)

  monkeypatch.setattr(adversarial.probe, "linear_probe_accuracy",
                      crash_on_third_evaluation)
  with pytest.raises(KeyboardInterrupt):
    run(tmp_path, toy_config(), name="resumed")
  monkeypatch.setattr(adversarial.probe, "linear_probe_accuracy", real_probe)
  resumed = run(tmp_path, toy_config(), name="resumed")[0]
  assert [r["step"] for r in resumed] == [0, 50, 100, 150]
  for key in ("accuracy", "inverse_error", "encoder_loss"):
    np.testing.assert_allclose(
        [np.nan if r[key] is None else r[key] for r in resumed],
        [np.nan if r[key] is None else r[key] for r in straight], atol=1e-5)


def test_completed_stage_is_not_rerun(tmp_path, monkeypatch):
  first = run(tmp_path, toy_config(iterations=10, eval_every=10))[0]
  monkeypatch.setattr(adversarial, "_Stage", None)  # Any rebuild would fail.
  assert run(tmp_path, toy_config(iterations=10, eval_every=10))[0] == first
  assert tracking.RunRecorder(str(tmp_path / "adv" / "seed_0")).is_complete()


@pytest.mark.parametrize("overrides,message", [
    (dict(iterations=0), "iterations must be >= 1"),
    (dict(eval_every=500), "eval_every must be in"),
    (dict(batch_size=1), "batch size must be in"),
    (dict(encoder=train.EncoderConfig("mlp", layer_sizes=(8,))),
     "needs an invertible encoder"),
])
def test_bad_configurations(tmp_path, overrides, message):
  with pytest.raises(errors.ConfigError, match=message):
    run(tmp_path, toy_config(**overrides))
