"""Tests for infomax_tf.diagnostics against closed forms and NumPy."""

import numpy as np
import pytest
import tensorflow as tf

from infomax_tf import diagnostics
from infomax_tf import encoders


def _rng(seed=0):
  return np.random.default_rng(seed)


def _linear_map(rows, cols, seed=0):
  matrix = _rng(seed).normal(size=(rows, cols)).astype(np.float32)
  return matrix, lambda x: tf.matmul(x, matrix, transpose_b=True)


def test_identity_has_log_condition_zero():
  x = _rng().random((5, 7), dtype=np.float32)
  stats = diagnostics.jacobian_stats(lambda v: tf.identity(v), x)
  np.testing.assert_allclose(stats.singular_values, np.ones((5, 7)), atol=1e-6)
  np.testing.assert_allclose(stats.log_condition, np.zeros(5), atol=1e-6)
  assert set(stats.log_condition_percentiles) == set(
      diagnostics.DEFAULT_PERCENTILES)


@pytest.mark.parametrize("rows,cols", [(6, 6), (4, 9), (9, 4)])
def test_linear_map_matches_numpy(rows, cols):
  matrix, encoder = _linear_map(rows, cols)
  x = _rng(1).random((3, cols), dtype=np.float32)
  stats = diagnostics.jacobian_stats(encoder, x)
  expected_s = np.linalg.svd(matrix.astype(np.float64), compute_uv=False)
  np.testing.assert_allclose(
      stats.singular_values, np.tile(expected_s, (3, 1)), rtol=1e-4)
  expected = np.log(np.linalg.cond(matrix.astype(np.float64)))
  assert expected > 0.5  # Far from the identity's 0.
  np.testing.assert_allclose(stats.log_condition, expected, rtol=1e-4)


def test_per_example_jacobian_of_a_nonlinear_map():
  weights = _rng(2).normal(size=(3, 5)).astype(np.float32)
  encoder = lambda x: tf.tanh(tf.matmul(x, weights, transpose_b=True))
  x = _rng(3).normal(size=(4, 5)).astype(np.float32)
  jacobians = diagnostics.per_example_jacobian(encoder, x)
  derivative = 1 - np.tanh(x @ weights.T)**2  # [4, 3]
  expected = derivative[:, :, None] * weights[None, :, :]
  np.testing.assert_allclose(jacobians, expected, rtol=1e-5, atol=1e-6)
  # Examples differ, so one Jacobian per example, not a batch average.
  assert np.abs(jacobians[0] - jacobians[1]).max() > 1e-2


def test_log_condition_number_closed_forms():
  values = np.array([[4.0, 2.0, 1.0], [1.0, 1.0, 1.0], [3.0, 0.0, 1.0]])
  np.testing.assert_allclose(
      diagnostics.log_condition_number(values), [np.log(4.0), 0.0, np.inf])


def test_percentiles_match_numpy():
  values = _rng(4).normal(size=101)
  result = diagnostics.percentiles(values, q=(0, 25, 50, 100))
  assert result == {
      0: values.min(),
      25: pytest.approx(np.percentile(values, 25)),
      50: pytest.approx(np.median(values)),
      100: values.max()
  }


def test_scalars_are_named_by_percentile():
  stats = diagnostics.JacobianStats(
      singular_values=np.ones((2, 2)),
      log_condition=np.zeros(2),
      log_condition_percentiles={10: 0.5, 50: 1.5})
  assert stats.scalars() == {"log_condition/p10": 0.5, "log_condition/p50": 1.5}


def test_paper_size_jacobian_of_the_skip_mlp():
  # fig2's g1: 392 -> 392 per example; near the identity at init.
  model = encoders.build_encoder("mlp_skip", 392, seed=0)
  singular_values_fn = diagnostics.make_singular_values_fn(model)
  x = _rng(5).random((8, 392), dtype=np.float32)
  stats = diagnostics.jacobian_stats(
      model, x, singular_values_fn=singular_values_fn)
  assert stats.singular_values.shape == (8, 392)
  assert np.all(np.diff(stats.singular_values, axis=1) <= 0)  # Descending.
  assert np.all(stats.log_condition >= 0)
  assert np.all(stats.log_condition < 0.05)
  # A default-initialised skip MLP is far from an isometry.
  far = encoders.build_encoder("mlp_skip", 392, kernel_init_sd=None, seed=0)
  assert np.median(diagnostics.jacobian_stats(far, x).log_condition) > 1.0


def test_invertibility_error_of_a_flow_is_small():
  flow = encoders.RealNVP(
      64, num_couplings=3, hidden_sizes=[16], affine=True,
      kernel_init_sd=None, seed=0)
  x = _rng(6).random((10, 64), dtype=np.float32)
  assert diagnostics.invertibility_error(flow, x) < 1e-5


class _ShiftWithWrongInverse:
  """g(x) = x + 1, with an inverse that subtracts 0.75 instead of 1."""

  def __call__(self, x):
    return x + 1.0

  def inverse(self, z):
    return z - 0.75


def test_invertibility_error_measures_the_round_trip():
  x = np.full((3, 4), 2.0, dtype=np.float32)
  x[0, 0] = 4.0
  encoder = _ShiftWithWrongInverse()
  assert diagnostics.invertibility_error(encoder, x) == pytest.approx(0.25)
  assert diagnostics.invertibility_error(
      encoder, x, relative=True) == pytest.approx(0.25 / 4.0)
