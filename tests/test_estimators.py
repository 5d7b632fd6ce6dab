"""Tests for infomax_tf.estimators: closed forms, tfp agreement, numerics."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from infomax_tf import critics
from infomax_tf import estimators

tfp_mi = tfp.vi.mutual_information

# Plain-Python float64 references written from the definitions, with explicit
# loops, independent of the TensorFlow code under test.


def _offdiag(s):
  k = len(s)
  return [s[i][j] for i in range(k) for j in range(k) if i != j]


def _ref_nce(s):
  k = len(s)
  return math.log(k) + sum(
      s[i][i] - math.log(sum(math.exp(v) for v in s[i])) for i in range(k)) / k


def _ref_tuba(s, log_baseline=None):
  k = len(s)
  if log_baseline is None:
    log_baseline = [0.0] * k
  elif np.ndim(log_baseline) == 0:
    log_baseline = [float(log_baseline)] * k
  shifted = [[s[i][j] - log_baseline[i] for j in range(k)] for i in range(k)]
  joint = sum(shifted[i][i] for i in range(k)) / k
  marginal = sum(math.exp(v) for v in _offdiag(shifted)) / (k * (k - 1))
  return 1.0 + joint - marginal


def _ref_nwj(s):
  k = len(s)
  joint = sum(s[i][i] - 1.0 for i in range(k)) / k
  marginal = sum(math.exp(v - 1.0) for v in _offdiag(s)) / (k * (k - 1))
  return 1.0 + joint - marginal


def _softplus(v):
  return math.log1p(math.exp(v))


def _ref_js(s):
  k = len(s)
  joint = sum(-_softplus(-s[i][i]) for i in range(k)) / k
  marginal = sum(_softplus(v) for v in _offdiag(s)) / (k * (k - 1))
  return joint - marginal


def _ref_dv(s, clip=None):
  k = len(s)
  off = _offdiag(s)
  if clip is not None:
    off = [min(max(v, -clip), clip) for v in off]
  joint = sum(s[i][i] for i in range(k)) / k
  return joint - math.log(sum(math.exp(v) for v in off) / len(off))


HAND_MADE = {
    "2x2": [[1.5, -0.5], [0.25, 2.0]],
    "3x3": [[2.0, 0.0, -1.0], [1.0, 3.0, 0.0], [0.5, -2.0, 1.0]],
    "4x4": [[0.3, 1.2, -0.7, 2.2], [-1.1, 0.0, 0.4, 0.9],
            [3.0, -2.5, 1.7, 0.1], [0.6, 0.6, -0.3, -4.0]],
}

CASES = {
    "nce": (estimators.infonce_lower_bound, _ref_nce),
    "nwj": (estimators.nwj_lower_bound, _ref_nwj),
    "tuba": (estimators.tuba_lower_bound, _ref_tuba),
    "tuba_scalar_baseline": (
        lambda s: estimators.tuba_lower_bound(s, log_baseline=0.3),
        lambda s: _ref_tuba(s, 0.3)),
    "js": (estimators.js_lower_bound, _ref_js),
    "dv": (estimators.dv_lower_bound, _ref_dv),
    "smile_clip_1": (
        lambda s: estimators.smile_lower_bound(s, clip=1.0),
        lambda s: _ref_dv(s, clip=1.0)),
    "js_critic_nwj": (estimators.js_critic_nwj_lower_bound,
                      lambda s: _ref_nwj([[v + 1.0 for v in r] for r in s])),
}


@pytest.mark.parametrize("matrix", sorted(HAND_MADE))
@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_definition_on_hand_made_scores(case, matrix):
  fn, reference = CASES[case]
  scores = HAND_MADE[matrix]
  got = float(fn(tf.constant(scores, tf.float32)))
  np.testing.assert_allclose(got, reference(scores), rtol=1e-5, atol=1e-5)


def test_tuba_per_row_baseline_matches_definition():
  scores = HAND_MADE["3x3"]
  log_baseline = [0.5, -1.0, 2.0]
  got = float(estimators.tuba_lower_bound(
      tf.constant(scores), tf.constant(log_baseline)))
  np.testing.assert_allclose(got, _ref_tuba(scores, log_baseline), rtol=1e-6)


@pytest.mark.parametrize("k", [2, 5, 64])
@pytest.mark.parametrize("name,expected", [
    ("nce", 0.0),
    ("nwj", -1.0 / math.e),   # 1 + (0 - 1) - exp(0 - 1)
    ("tuba", 0.0),            # 1 + 0 - exp(0)
    ("js", -2.0 * math.log(2.0)),
    ("dv", 0.0),
    ("smile", 0.0),
])
def test_known_values_on_zero_scores(name, expected, k):
  value = float(estimators.get_estimator(name)(tf.zeros([k, k])))
  np.testing.assert_allclose(value, expected, atol=1e-6)


@pytest.mark.parametrize("k", [2, 16, 128])
@pytest.mark.parametrize("diagonal", [-3.0, 0.0, 2.5, 10.0])
def test_nce_closed_form_for_constant_diagonal(k, diagonal):
  scores = tf.linalg.diag(tf.fill([k], diagonal))
  expected = math.log(k) + diagonal - math.log(math.exp(diagonal) + k - 1)
  np.testing.assert_allclose(
      float(estimators.infonce_lower_bound(scores)), expected, atol=2e-6)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("k", [2, 7, 128])
@pytest.mark.parametrize("scale", [0.1, 1.0, 30.0, 1e3])
def test_nce_never_exceeds_log_k(seed, k, scale):
  scores = scale * tf.random.stateless_normal([k, k], seed=[seed, k])
  assert float(estimators.infonce_lower_bound(scores)) <= math.log(k) + 1e-6


@pytest.mark.parametrize("k", [4, 32, 128])
def test_nce_tends_to_log_k_for_sharper_identical_view_scores(k):
  # Unit-norm identical views under an inner-product critic scaled by alpha:
  # the diagonal dominates each row more and more as alpha grows.
  z = tf.math.l2_normalize(
      tf.random.stateless_normal([k, 32], seed=[1, k]), axis=-1)
  critic = critics.InnerProductCritic()
  values = [float(estimators.infonce_lower_bound(critic(alpha * z, z)))
            for alpha in (1.0, 10.0, 100.0, 1000.0)]
  # Non-decreasing (it saturates at log K in float32), from well below.
  assert np.all(np.diff(values) >= 0)
  assert values[0] < math.log(k) - 0.5
  np.testing.assert_allclose(values[-1], math.log(k), atol=1e-5)


def test_trained_critic_on_identical_views_pushes_nce_to_log_k():
  keras.utils.set_random_seed(0)
  k, dim = 64, 8
  critic = critics.ConcatCritic(seed=0)
  optimizer = keras.optimizers.Adam(1e-2)
  generator = tf.random.Generator.from_seed(0)
  critic(tf.zeros([2, dim]), tf.zeros([2, dim]))

  @tf.function
  def train_step():
    z = generator.normal([k, dim])
    with tf.GradientTape() as tape:
      loss = -estimators.infonce_lower_bound(critic(z, z))
    grads = tape.gradient(loss, critic.trainable_variables)
    optimizer.apply_gradients(zip(grads, critic.trainable_variables))
    return -loss

  first = float(train_step())
  for _ in range(300):
    train_step()
  z = generator.normal([k, dim])
  final = float(estimators.infonce_lower_bound(critic(z, z)))
  assert first < 1.0
  assert math.log(k) - 0.02 < final <= math.log(k) + 1e-6


# --- Known mutual information: correlated Gaussians --------------------------

_GAUSSIAN_DIM = 2


def _train_and_estimate(train_name, true_mi, seed, steps=800, batch=128):
  """Trains a separable critic on correlated Gaussians; returns the estimate.

  x ~ N(0, I_2), y = rho x + sqrt(1 - rho^2) eps, so that
  I(X; Y) = -(2/2) log(1 - rho^2) = true_mi. The estimate is the evaluation
  bound averaged over 50 fresh batches.
  """
  rho = math.sqrt(1.0 - math.exp(-2.0 * true_mi / _GAUSSIAN_DIM))
  noise_scale = math.sqrt(1.0 - rho ** 2)

  def sample(generator, k):
    x = generator.normal([k, _GAUSSIAN_DIM])
    return x, rho * x + noise_scale * generator.normal([k, _GAUSSIAN_DIM])

  keras.utils.set_random_seed(seed)
  critic = critics.SeparableCritic(seed=seed)
  optimizer = keras.optimizers.Adam(1e-3)
  train_bound = estimators.get_estimator(train_name)
  eval_bound = estimators.evaluation_estimator(train_name)
  train_data = tf.random.Generator.from_seed(seed + 100)
  eval_data = tf.random.Generator.from_seed(seed + 200)
  critic(*sample(train_data, 2))

  @tf.function
  def train_step():
    x, y = sample(train_data, batch)
    with tf.GradientTape() as tape:
      loss = -train_bound(critic(x, y))
    grads = tape.gradient(loss, critic.trainable_variables)
    optimizer.apply_gradients(zip(grads, critic.trainable_variables))

  @tf.function
  def evaluate():
    return eval_bound(critic(*sample(eval_data, batch)))

  for _ in range(steps):
    train_step()
  return float(np.mean([float(evaluate()) for _ in range(50)]))


@pytest.mark.parametrize("train_name", ["nce", "nwj", "js"])
def test_gaussian_known_mi_is_approached_from_below(train_name):
  true_mi = 1.0
  estimate = _train_and_estimate(train_name, true_mi, seed=0)
  # A lower bound, averaged over 50 batches: at most sampling noise above.
  assert true_mi - 0.2 <= estimate <= true_mi + 0.05, estimate


@pytest.mark.parametrize("train_name", ["nce", "nwj"])
def test_independent_samples_give_about_zero(train_name):
  estimate = _train_and_estimate(train_name, 0.0, seed=1, steps=300)
  assert abs(estimate) < 0.02, estimate


@pytest.mark.parametrize("name,constant", [
    ("nce", 3.0), ("nwj", 1.0), ("tuba", 0.0), ("dv", -2.0), ("smile", 4.0)])
def test_uninformative_critic_gives_zero(name, constant):
  # A critic that ignores its inputs: the optimal one when X and Y are
  # independent (NWJ and TUBA need the constant of their optimum; SMILE one
  # inside its clip).
  scores = tf.fill([16, 16], constant)
  np.testing.assert_allclose(
      float(estimators.get_estimator(name)(scores)), 0.0, atol=1e-6)


# --- Agreement with tfp.vi.mutual_information --------------------------------

TFP_PAIRS = {
    "nce": (estimators.infonce_lower_bound, tfp_mi.lower_bound_info_nce),
    "nwj": (estimators.nwj_lower_bound,
            tfp_mi.lower_bound_nguyen_wainwright_jordan),
    "js": (estimators.js_lower_bound, tfp_mi.lower_bound_jensen_shannon),
}


@pytest.mark.parametrize("name", sorted(TFP_PAIRS))
@pytest.mark.parametrize("shape", [(2, 2), (5, 5), (128, 128), (512, 512),
                                   (3, 7)])
@pytest.mark.parametrize("scale", [1.0, 10.0])
def test_agrees_with_tfp(name, shape, scale):
  ours, theirs = TFP_PAIRS[name]
  scores = scale * tf.random.stateless_normal(shape, seed=[7, shape[0]])
  np.testing.assert_allclose(float(ours(scores)), float(theirs(scores)),
                             rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["nwj", "js"])
def test_agrees_with_tfp_given_explicit_identity_mask(name):
  # tfp's masked code path (boolean_mask) is the same bound as its default.
  ours, theirs = TFP_PAIRS[name]
  scores = 3.0 * tf.random.stateless_normal([9, 9], seed=[3, 3])
  np.testing.assert_allclose(
      float(ours(scores)),
      float(theirs(scores, joint_sample_mask=tf.eye(9, dtype=tf.bool))),
      rtol=1e-5, atol=1e-5)


def test_tfp_info_nce_needs_a_static_batch_size_and_ours_does_not():
  spec = [tf.TensorSpec([None, None], tf.float32)]
  with pytest.raises((ValueError, TypeError)):
    tf.function(tfp_mi.lower_bound_info_nce,
                input_signature=spec).get_concrete_function()
  scores = tf.random.stateless_normal([6, 6], seed=[0, 6])
  ours = tf.function(estimators.infonce_lower_bound, input_signature=spec)
  np.testing.assert_allclose(float(ours(scores)),
                             float(tfp_mi.lower_bound_info_nce(scores)),
                             rtol=1e-5, atol=1e-6)


# --- Relations between bounds -------------------------------------------------


@pytest.mark.parametrize("seed", range(3))
def test_relations_between_bounds(seed):
  scores = 2.0 * tf.random.stateless_normal([12, 12], seed=[seed, 0])
  nwj = float(estimators.nwj_lower_bound(scores))
  np.testing.assert_allclose(
      nwj, float(estimators.tuba_lower_bound(scores, log_baseline=1.0)),
      rtol=1e-6)
  np.testing.assert_allclose(
      float(estimators.js_critic_nwj_lower_bound(scores)),
      float(estimators.tuba_lower_bound(scores)), rtol=1e-6)
  # log z <= z / e for z > 0 makes DV at least NWJ for any scores.
  assert float(estimators.dv_lower_bound(scores)) >= nwj
  # DV is invariant to a constant shift of the critic; NWJ is not.
  np.testing.assert_allclose(
      float(estimators.dv_lower_bound(scores + 3.0)),
      float(estimators.dv_lower_bound(scores)), atol=1e-5)
  # SMILE without clipping (or with a clip no score reaches) is DV.
  dv = float(estimators.dv_lower_bound(scores))
  np.testing.assert_allclose(
      float(estimators.smile_lower_bound(scores, clip=None)), dv, atol=1e-6)
  np.testing.assert_allclose(
      float(estimators.smile_lower_bound(scores, clip=1e3)), dv, atol=1e-6)


def test_smile_has_js_gradients_and_clipped_dv_value():
  scores = tf.Variable(4.0 * tf.random.stateless_normal([10, 10], seed=[5, 5]))
  with tf.GradientTape(persistent=True) as tape:
    smile = estimators.smile_lower_bound(scores, clip=2.0)
    js = estimators.js_lower_bound(scores)
  np.testing.assert_allclose(float(smile),
                             _ref_dv(scores.numpy().tolist(), clip=2.0),
                             rtol=1e-5)
  np.testing.assert_allclose(tape.gradient(smile, scores).numpy(),
                             tape.gradient(js, scores).numpy(), atol=1e-7)


def test_smile_rejects_non_positive_clip():
  with pytest.raises(ValueError):
    estimators.smile_lower_bound(tf.zeros([3, 3]), clip=0.0)


# --- Tracing, XLA, numerics --------------------------------------------------

ALL_ESTIMATORS = {
    **{name: estimators.get_estimator(name) for name in estimators.ESTIMATORS},
    "tuba_baseline": lambda s: estimators.tuba_lower_bound(s, 0.5),
    "js_critic_nwj": estimators.js_critic_nwj_lower_bound,
}


@pytest.mark.parametrize("name", sorted(ALL_ESTIMATORS))
def test_traces_with_unknown_batch_size(name):
  fn = ALL_ESTIMATORS[name]
  traced = tf.function(
      fn, input_signature=[tf.TensorSpec([None, None], tf.float32)])
  concrete = traced.get_concrete_function()
  for k in (2, 3, 17):
    scores = tf.random.stateless_normal([k, k], seed=[k, 1])
    np.testing.assert_allclose(float(concrete(scores)), float(fn(scores)),
                               rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", sorted(ALL_ESTIMATORS))
def test_compiles_with_xla(name):
  fn = ALL_ESTIMATORS[name]
  compiled = tf.function(fn, jit_compile=True, reduce_retracing=True)
  for k in (2, 33):
    scores = 3.0 * tf.random.stateless_normal([k, k], seed=[k, 2])
    np.testing.assert_allclose(float(compiled(scores)), float(fn(scores)),
                               rtol=1e-5, atol=1e-5)


def _value_and_gradient(fn, scores):
  scores = tf.convert_to_tensor(scores, tf.float32)
  with tf.GradientTape() as tape:
    tape.watch(scores)
    value = fn(scores)
  return value.numpy(), tape.gradient(value, scores).numpy()


@pytest.mark.parametrize("name", ["nce", "js", "dv", "smile"])
@pytest.mark.parametrize("seed", range(3))
def test_extreme_scores_stay_finite(name, seed):
  signs = tf.sign(tf.random.stateless_normal([32, 32], seed=[seed, 9]))
  for scores in (1e4 * signs, 1e4 * tf.ones([32, 32]), -1e4 * tf.ones([32, 32]),
                 1e4 * tf.eye(32) - 1e4 * (1.0 - tf.eye(32))):
    value, gradient = _value_and_gradient(ALL_ESTIMATORS[name], scores)
    assert np.isfinite(value)
    assert np.all(np.isfinite(gradient))


@pytest.mark.parametrize("name", ["nwj", "tuba", "js_critic_nwj"])
def test_exponential_bounds_finite_until_true_value_overflows(name):
  fn = ALL_ESTIMATORS[name]
  eye = tf.eye(32)
  # Extreme diagonal, off-diagonal scores anywhere up to ~80: finite.
  for scores in (1e4 * eye - 1e4 * (1.0 - eye), -1e4 * eye + 80.0 * (1 - eye),
                 1e4 * eye + 80.0 * (1.0 - eye)):
    value, gradient = _value_and_gradient(fn, scores)
    assert np.isfinite(value)
    assert np.all(np.isfinite(gradient))
  # Off-diagonal scores of 1e4: the bound is about -exp(1e4), below the
  # float32 range. It rounds to -inf, never NaN.
  value = float(fn(1e4 * tf.ones([32, 32])))
  assert value == -math.inf


@pytest.mark.parametrize("name", sorted(ALL_ESTIMATORS))
@pytest.mark.parametrize("position", [(0, 0), (2, 2), (0, 3), (4, 1)])
def test_nan_scores_propagate(name, position):
  scores = tf.tensor_scatter_nd_update(
      tf.random.stateless_normal([5, 5], seed=[0, 0]), [position], [math.nan])
  assert math.isnan(float(ALL_ESTIMATORS[name](scores)))


@pytest.mark.parametrize("name", sorted(ALL_ESTIMATORS))
def test_positive_infinite_negative_pair_score_is_not_masked(name):
  scores = tf.tensor_scatter_nd_update(
      tf.zeros([5, 5]), [(1, 3)], [math.inf])
  assert not math.isfinite(float(ALL_ESTIMATORS[name](scores)))


def test_minus_infinite_negative_pair_scores_contribute_exactly_zero():
  # A critic may rule a pair out: exp(-inf) = 0 exactly, no NaN.
  k = 6
  diagonal = tf.range(k, dtype=tf.float32) / 3.0
  scores = tf.linalg.set_diag(tf.fill([k, k], -math.inf), diagonal)
  np.testing.assert_allclose(float(estimators.infonce_lower_bound(scores)),
                             math.log(k), rtol=1e-6)
  np.testing.assert_allclose(float(estimators.nwj_lower_bound(scores)),
                             float(tf.reduce_mean(diagonal)), rtol=1e-6)
  assert float(estimators.dv_lower_bound(scores)) == math.inf


# --- Registry ----------------------------------------------------------------


def test_registry_names():
  assert estimators.ESTIMATORS == ("nce", "nwj", "tuba", "js", "dv", "smile")
  scores = tf.random.stateless_normal([6, 6], seed=[4, 4])
  for name, fn in [("nce", estimators.infonce_lower_bound),
                   ("InfoNCE", estimators.infonce_lower_bound),
                   ("nwj", estimators.nwj_lower_bound),
                   ("tuba", estimators.tuba_lower_bound),
                   ("js", estimators.js_lower_bound),
                   ("DV", estimators.dv_lower_bound)]:
    np.testing.assert_allclose(
        float(estimators.get_estimator(name)(scores)), float(fn(scores)),
        rtol=1e-6)
  assert estimators.canonical_name("InfoNCE") == "nce"


def test_unknown_estimator_lists_known_names():
  with pytest.raises(ValueError) as error:
    estimators.get_estimator("mine")
  for name in estimators.ESTIMATORS + ("infonce",):
    assert name in str(error.value)
  with pytest.raises(ValueError):
    estimators.evaluation_estimator("mine")


def test_smile_registry_default_clip_is_five():
  # Off-diagonal scores beyond 5 so that the clip matters.
  scores = 8.0 * tf.random.stateless_normal([8, 8], seed=[2, 2])
  from_registry = float(estimators.get_estimator("smile")(scores))
  np.testing.assert_allclose(
      from_registry, float(estimators.smile_lower_bound(scores, clip=5.0)))
  assert abs(from_registry
             - float(estimators.smile_lower_bound(scores, clip=None))) > 0.1
  np.testing.assert_allclose(
      float(estimators.get_estimator("smile", clip=2.0)(scores)),
      float(estimators.smile_lower_bound(scores, clip=2.0)))


@pytest.mark.parametrize("name", ["nce", "infonce", "nwj", "tuba", "dv",
                                  "smile"])
def test_evaluation_estimator_is_training_bound_except_js(name):
  scores = tf.random.stateless_normal([8, 8], seed=[1, 8])
  np.testing.assert_allclose(
      float(estimators.evaluation_estimator(name)(scores)),
      float(estimators.get_estimator(name)(scores)), rtol=1e-6)


def test_js_is_evaluated_with_nwj_of_shifted_critic():
  assert (estimators.evaluation_estimator("js")
          is estimators.js_critic_nwj_lower_bound)
  # At the JS optimum, the log density ratio f = log r, the shifted NWJ is
  # tight while NWJ of f itself reads I - 1/e. Exact ratio on a discrete joint:
  # x uniform on {0, 1}, y = x, so r = 2 on matching pairs, 0 otherwise, and
  # I = log 2. Batch: x_i = i mod 2; a fraction 499/999 of the off-diagonal
  # (marginal) pairs match, so mean_{i != j} r = 998/999.
  k = 1000
  x = tf.range(k) % 2
  matching = tf.equal(x[:, tf.newaxis], x[tf.newaxis, :])
  log_ratio = tf.where(matching, math.log(2.0), -math.inf)
  marginal_mean = 998.0 / 999.0
  np.testing.assert_allclose(
      float(estimators.js_critic_nwj_lower_bound(log_ratio)),
      1.0 + math.log(2.0) - marginal_mean, rtol=1e-5)
  np.testing.assert_allclose(
      float(estimators.nwj_lower_bound(log_ratio)),
      math.log(2.0) - marginal_mean / math.e, rtol=1e-5)
