"""Tests for infomax_tf.critics: scores, parameter counts, config, tracing."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from infomax_tf import critics
from infomax_tf import estimators


def _codes(k, dim, seed):
  return tf.random.stateless_normal([k, dim], seed=[seed, dim])


def _numpy_mlp(layers, inputs):
  """Forward pass of Dense layers in float64 numpy from their weights."""
  out = np.asarray(inputs, np.float64)
  for index, layer in enumerate(layers):
    out = out @ layer.kernel.numpy().astype(np.float64)
    out = out + layer.bias.numpy()
    if index < len(layers) - 1:
      out = np.maximum(out, 0.0)
  return out


ALL_NAMES = ("inner", "bilinear", "separable", "concat")


@pytest.mark.parametrize("name", ALL_NAMES)
@pytest.mark.parametrize("k", [1, 5, 16])
def test_scores_are_k_by_k_float32(name, k):
  critic = critics.get_critic(name, seed=0)
  scores = critic(_codes(k, 7, 0), _codes(k, 7, 1))
  assert scores.shape == (k, k)
  assert scores.dtype == tf.float32
  assert np.all(np.isfinite(scores.numpy()))


def test_inner_product_scores():
  z1, z2 = _codes(6, 4, 0), _codes(6, 4, 1)
  scores = critics.InnerProductCritic()(z1, z2).numpy()
  expected = [[float(np.dot(z1[i], z2[j])) for j in range(6)] for i in range(6)]
  np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-6)


def test_inner_product_scores_in_float32_under_mixed_precision():
  previous = keras.config.dtype_policy()
  keras.config.set_dtype_policy("mixed_bfloat16")
  try:
    critic = critics.get_critic("inner")
  finally:
    keras.config.set_dtype_policy(previous)
  z1, z2 = (tf.cast(tf.random.stateless_normal([16, 8], [s, 0]), tf.bfloat16)
            for s in (1, 2))
  scores = critic(z1, z2)
  assert scores.dtype == tf.float32
  np.testing.assert_array_equal(
      scores, tf.matmul(tf.cast(z1, tf.float32), tf.cast(z2, tf.float32),
                        transpose_b=True))


@pytest.mark.parametrize("dims", [(5, 5), (3, 8)])
def test_bilinear_scores_are_x_w_y(dims):
  z1, z2 = _codes(6, dims[0], 0), _codes(6, dims[1], 1)
  critic = critics.BilinearCritic(seed=3)
  scores = critic(z1, z2).numpy()
  (kernel,) = [v.numpy() for v in critic.trainable_variables]
  assert kernel.shape == (dims[1], dims[0])  # Dense on y: y @ kernel.
  expected = [[float(z1[i].numpy() @ kernel.T @ z2[j].numpy())
               for j in range(6)] for i in range(6)]
  np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("hidden_units", [(100,), (), (16, 8)])
def test_separable_scores_are_dot_products_of_two_mlps(hidden_units):
  z1, z2 = _codes(5, 6, 0), _codes(5, 3, 1)
  critic = critics.SeparableCritic(hidden_units=hidden_units, output_dim=12,
                                   seed=1)
  scores = critic(z1, z2).numpy()
  phi1 = _numpy_mlp(critic.phi1, z1.numpy())
  phi2 = _numpy_mlp(critic.phi2, z2.numpy())
  np.testing.assert_allclose(scores, phi1 @ phi2.T, rtol=1e-4, atol=1e-5)
  # Two distinct networks, not one shared one (nor one initialisation).
  first = critic.phi1[-1].kernel.numpy()
  second = critic.phi2[-1].kernel.numpy()
  assert first.shape != second.shape or not np.allclose(first, second)


@pytest.mark.parametrize("hidden_units", [(200,), (10,) * 5, ()])
@pytest.mark.parametrize("dims", [(4, 4), (3, 6)])
def test_concat_scores_equal_mlp_on_explicit_pairs(hidden_units, dims):
  k = 7
  z1, z2 = _codes(k, dims[0], 0), _codes(k, dims[1], 1)
  critic = critics.ConcatCritic(hidden_units=hidden_units, seed=2)
  scores = critic(z1, z2).numpy()
  # The naive evaluation: every pair [z1[i], z2[j]] as a row of one batch.
  pairs = tf.concat([tf.repeat(z1, k, axis=0), tf.tile(z2, [k, 1])], axis=1)
  naive = tf.reshape(critic.score_concatenated(pairs), [k, k]).numpy()
  np.testing.assert_allclose(scores, naive, rtol=1e-5, atol=1e-5)
  reference = _numpy_mlp(critic.phi, pairs.numpy()).reshape(k, k)
  np.testing.assert_allclose(scores, reference, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name,expected", [
    ("inner", 0),
    ("bilinear", 100 * 100),
    ("separable", 2 * ((100 * 100 + 100) + (100 * 100 + 100))),  # 40,400
    ("concat", (200 * 200 + 200) + (200 + 1)),                   # 40,401
])
def test_parameter_counts_match_paper_for_100d_codes(name, expected):
  critic = critics.get_critic(name)
  critic(tf.zeros([2, 100]), tf.zeros([2, 100]))
  assert critic.count_params() == expected
  if name in ("separable", "concat"):
    assert 40_000 <= critic.count_params() <= 41_000


def test_fig4c_concat_critic_shape():
  critic = critics.ConcatCritic(hidden_units=(10,) * 5)
  critic(tf.zeros([3, 1]), tf.zeros([3, 1]))
  assert len(critic.phi) == 6
  assert critic.count_params() == (2 * 10 + 10) + 4 * (10 * 10 + 10) + 11


@pytest.mark.parametrize("name,num_variables", [
    ("inner", 0), ("bilinear", 1), ("separable", 8), ("concat", 4)])
def test_gradients_reach_every_trainable_variable(name, num_variables):
  critic = critics.get_critic(name, seed=0)
  z1, z2 = _codes(8, 5, 0), _codes(8, 5, 1)
  with tf.GradientTape() as tape:
    bound = estimators.infonce_lower_bound(critic(z1, z2))
  assert len(critic.trainable_variables) == num_variables
  grads = tape.gradient(bound, critic.trainable_variables)
  assert all(g is not None and np.any(g.numpy() != 0) for g in grads)


@pytest.mark.parametrize("name", ["bilinear", "separable", "concat"])
def test_seed_makes_initialisation_deterministic(name):
  z1, z2 = _codes(6, 5, 0), _codes(6, 5, 1)
  first = critics.get_critic(name, seed=11)(z1, z2).numpy()
  second = critics.get_critic(name, seed=11)(z1, z2).numpy()
  other = critics.get_critic(name, seed=12)(z1, z2).numpy()
  np.testing.assert_array_equal(first, second)
  assert not np.allclose(first, other)


@pytest.mark.parametrize("name,kwargs", [
    ("inner", {}),
    ("bilinear", {"seed": 4}),
    ("separable", {"hidden_units": (32, 16), "output_dim": 20, "seed": 4}),
    ("concat", {"hidden_units": (10,) * 5, "activation": "tanh", "seed": 4}),
])
def test_config_round_trip(name, kwargs):
  critic = critics.get_critic(name, **kwargs)
  config = critic.get_config()
  rebuilt = type(critic).from_config(config)
  assert rebuilt.get_config() == config
  z1, z2 = _codes(5, 6, 0), _codes(5, 6, 1)
  np.testing.assert_allclose(rebuilt(z1, z2).numpy(), critic(z1, z2).numpy(),
                             rtol=1e-6)


def test_get_critic_names_and_aliases():
  assert critics.CRITICS == ALL_NAMES
  assert isinstance(critics.get_critic("MLP"), critics.ConcatCritic)
  assert isinstance(critics.get_critic("concat"), critics.ConcatCritic)
  assert isinstance(critics.get_critic("inner"), critics.InnerProductCritic)
  assert isinstance(critics.get_critic("bilinear"), critics.BilinearCritic)
  separable = critics.get_critic("separable", hidden_units=[64], output_dim=32)
  assert separable.hidden_units == (64,) and separable.output_dim == 32
  with pytest.raises(ValueError) as error:
    critics.get_critic("attention")
  for name in ALL_NAMES + ("mlp",):
    assert name in str(error.value)


@pytest.mark.parametrize("name", ALL_NAMES)
def test_traces_with_unknown_batch_size(name):
  critic = critics.get_critic(name, seed=0)
  critic(_codes(2, 6, 0), _codes(2, 6, 1))
  spec = tf.TensorSpec([None, 6], tf.float32)
  traced = tf.function(
      lambda z1, z2: estimators.infonce_lower_bound(critic(z1, z2)),
      input_signature=[spec, spec]).get_concrete_function()
  for k in (3, 9):
    z1, z2 = _codes(k, 6, 2), _codes(k, 6, 3)
    np.testing.assert_allclose(
        float(traced(z1, z2)),
        float(estimators.infonce_lower_bound(critic(z1, z2))), rtol=1e-5)


@pytest.mark.parametrize("name", ["bilinear", "concat"])
def test_train_step_compiles_with_xla(name):
  critic = critics.get_critic(name, seed=0)
  optimizer = keras.optimizers.SGD(0.1)
  z1, z2 = _codes(16, 6, 0), _codes(16, 6, 1)
  critic(z1, z2)

  @tf.function(jit_compile=True)
  def train_step(z1, z2):
    with tf.GradientTape() as tape:
      loss = -estimators.infonce_lower_bound(critic(z1, z2))
    grads = tape.gradient(loss, critic.trainable_variables)
    optimizer.apply_gradients(zip(grads, critic.trainable_variables))
    return loss

  losses = [float(train_step(z1, z2)) for _ in range(5)]
  assert np.all(np.isfinite(losses))
  assert losses[-1] < losses[0]


def test_concat_critic_handles_paper_sized_batches():
  # Training batches (K = 128, d = 100) with gradients, and evaluation batches
  # (K = 512) on 392-d codes, where explicit pairs would need 0.8 GB.
  critic = critics.ConcatCritic(seed=0)
  z1, z2 = _codes(128, 100, 0), _codes(128, 100, 1)
  with tf.GradientTape() as tape:
    bound = estimators.nwj_lower_bound(critic(z1, z2))
  grads = tape.gradient(bound, critic.trainable_variables)
  assert all(np.all(np.isfinite(g.numpy())) for g in grads)

  evaluator = critics.ConcatCritic(seed=0)
  scores = evaluator(_codes(512, 392, 2), _codes(512, 392, 3))
  assert scores.shape == (512, 512)
  assert np.all(np.isfinite(scores.numpy()))
