"""Tests for infomax_tf.export: signatures, fresh-process loading, atomicity."""

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from infomax_tf import encoders
from infomax_tf import export

VIEW = 392
SMALL_FLOW = dict(num_couplings=3, hidden_sizes=[16, 16], kernel_init_sd=None)

# Runs in a fresh interpreter with only TensorFlow imported: loads each export,
# evaluates its signatures on saved inputs, and saves the results.
_LOADER = r"""
import sys
import numpy as np
import tensorflow as tf

inputs = np.load(sys.argv[1])
results = {}
for name in sys.argv[3:]:
  model = tf.saved_model.load(sys.argv[2] + "/" + name)
  signatures = model.signatures
  results[name + ":signatures"] = np.array(sorted(signatures))
  forward = signatures["serving_default"]
  results[name + ":z"] = forward(x=tf.constant(inputs["x"]))["z"].numpy()
  if "inverse" in signatures:
    z = tf.constant(inputs[name + ":z"])
    results[name + ":x"] = signatures["inverse"](z=z)["x"].numpy()
results["imported"] = np.array(
    [m for m in ("infomax_tf", "tensorflow_probability") if m in sys.modules])
np.savez(sys.argv[2] + "/results.npz", **results)
"""


def _views(batch=6, seed=0):
  return np.random.default_rng(seed).random((batch, VIEW), dtype=np.float32)


def _outputs(path, x):
  loaded = tf.saved_model.load(path)
  return loaded.signatures["serving_default"](x=tf.constant(x))["z"].numpy()


class _BrokenEncoder:
  """Fails while the export traces it."""
  input_dim = VIEW

  def __call__(self, x):
    raise RuntimeError("encoder exploded")


def _siblings(tmp_path):
  return sorted(os.listdir(tmp_path))


def test_fresh_process_reproduces_every_encoder(tmp_path):
  models = {
      "mlp": encoders.build_encoder("mlp", VIEW, seed=0),
      "convnet": encoders.build_encoder("convnet", VIEW, seed=0),
      "realnvp": encoders.build_encoder("realnvp", VIEW, seed=0, **SMALL_FLOW),
      "realnvp_affine": encoders.build_encoder(
          "realnvp_affine", VIEW, seed=0, **SMALL_FLOW),
  }
  x = _views()
  inputs = {"x": x}
  for name, model in models.items():
    assert export.export_encoder(model, tmp_path / name) == str(tmp_path / name)
    if model.invertible:
      inputs[name + ":z"] = model(tf.constant(x)).numpy()
  np.savez(tmp_path / "inputs.npz", **inputs)

  env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
  env.update(TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
  subprocess.run(
      [sys.executable, "-c", _LOADER, str(tmp_path / "inputs.npz"),
       str(tmp_path), *models],
      cwd=tmp_path, env=env, check=True, timeout=120)
  results = np.load(tmp_path / "results.npz")

  # Neither our code nor tfp was needed (TensorFlow itself imports Keras).
  assert list(results["imported"]) == []
  for name, model in models.items():
    expected = model(tf.constant(x)).numpy()
    np.testing.assert_allclose(results[name + ":z"], expected, atol=1e-6)
    if model.invertible:
      assert list(results[name + ":signatures"]) == [
          "inverse", "serving_default"]
      recovered = model.inverse(tf.constant(inputs[name + ":z"])).numpy()
      np.testing.assert_allclose(results[name + ":x"], recovered, atol=1e-6)
      np.testing.assert_allclose(results[name + ":x"], x, atol=1e-4)
    else:
      assert list(results[name + ":signatures"]) == ["serving_default"]


def test_signatures_accept_any_batch_size(tmp_path):
  model = encoders.build_encoder("realnvp", VIEW, seed=0, **SMALL_FLOW)
  loaded = tf.saved_model.load(export.export_encoder(model, tmp_path / "m"))
  forward = loaded.signatures["serving_default"]
  assert forward.structured_input_signature[1]["x"].shape.as_list() == [
      None, VIEW]
  assert list(forward.structured_outputs) == ["z"]
  assert list(loaded.signatures["inverse"].structured_outputs) == ["x"]
  for batch in (1, 9):
    assert forward(x=tf.constant(_views(batch)))["z"].shape == (batch, VIEW)


def test_failed_export_leaves_the_earlier_export_intact(tmp_path):
  target = tmp_path / "encoder"
  model = encoders.build_encoder("mlp", VIEW, seed=0)
  x = _views()
  export.export_encoder(model, target)
  before = _outputs(target, x)
  with pytest.raises(RuntimeError, match="exploded"):
    export.export_encoder(_BrokenEncoder(), target)
  np.testing.assert_array_equal(_outputs(target, x), before)
  assert _siblings(tmp_path) == ["encoder"]


def test_failed_first_export_leaves_nothing(tmp_path):
  with pytest.raises(RuntimeError, match="exploded"):
    export.export_encoder(_BrokenEncoder(), tmp_path / "encoder")
  assert _siblings(tmp_path) == []


def test_export_replaces_an_earlier_one_and_rolls_back_a_failed_move(
    tmp_path, monkeypatch):
  target = tmp_path / "encoder"
  x = _views()
  first = encoders.build_encoder("mlp", VIEW, seed=0)
  second = encoders.build_encoder("mlp", VIEW, seed=1)
  export.export_encoder(first, target)
  export.export_encoder(second, target)
  np.testing.assert_allclose(_outputs(target, x), second(x), atol=1e-6)
  assert _siblings(tmp_path) == ["encoder"]

  # Moving the new export in fails: the old one is moved back.
  real_rename = tf.io.gfile.rename

  def rename(src, dst, overwrite=False):
    if os.path.basename(str(src)).startswith(".encoder.tmp-"):
      raise OSError("rename failed")
    real_rename(src, dst, overwrite)

  monkeypatch.setattr(export.tf.io.gfile, "rename", rename)
  with pytest.raises(OSError, match="rename failed"):
    export.export_encoder(first, target)
  monkeypatch.undo()
  np.testing.assert_allclose(_outputs(target, x), second(x), atol=1e-6)
  assert _siblings(tmp_path) == ["encoder"]


def test_next_export_recovers_from_a_crash_between_renames(tmp_path):
  # State a crash of the fallback leaves: the old export moved aside only.
  target = tmp_path / "encoder"
  model = encoders.build_encoder("mlp", VIEW, seed=0)
  x = _views()
  export.export_encoder(model, target)
  os.rename(target, tmp_path / ".encoder.previous")
  with pytest.raises(RuntimeError, match="exploded"):
    export.export_encoder(_BrokenEncoder(), target)
  np.testing.assert_allclose(_outputs(target, x), model(x), atol=1e-6)
  assert _siblings(tmp_path) == ["encoder"]


def test_input_size_is_required_for_plain_callables(tmp_path):
  with pytest.raises(ValueError, match="input_dim"):
    export.export_encoder(lambda x: x, tmp_path / "identity")
