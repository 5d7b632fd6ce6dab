"""Tests for infomax_tf.encoders: shapes, weights, gradients, invertibility."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from infomax_tf import diagnostics
from infomax_tf import encoders

VIEW = 392  # MNIST half.
SMALL_FLOW = dict(num_couplings=4, hidden_sizes=[32, 32])


def _views(batch, dim=VIEW, seed=0):
  return np.random.default_rng(seed).random((batch, dim), dtype=np.float32)


def _num_params(model):
  return sum(int(np.prod(v.shape)) for v in model.trainable_variables)


def _small(name, dim=VIEW, seed=3, **kwargs):
  """A fast instance of each encoder family."""
  if name.startswith("realnvp"):
    kwargs = {**SMALL_FLOW, **kwargs}
  if name == "mlp_skip":
    kwargs.setdefault("layer_sizes", [dim] * 2)
  return encoders.build_encoder(name, dim, seed=seed, **kwargs)


def _composed_permutation(flow):
  """Index map of the flow's permutations: output[:, i] = x[:, index[i]]."""
  index = np.arange(flow.input_dim)
  for permutation in flow.permutations:
    index = index[permutation]  # tfb.Permute: y[..., i] = x[..., perm[i]].
  return index


@pytest.mark.parametrize("name,code_size", [
    ("mlp", 100), ("mlp_skip", VIEW), ("convnet", 100), ("realnvp", VIEW),
    ("realnvp_affine", VIEW)
])
def test_factory_builds_every_encoder(name, code_size):
  model = _small(name)
  assert isinstance(model, keras.Model)
  assert model(_views(5)).shape == (5, code_size)
  assert encoders.is_invertible(model) == name.startswith("realnvp")


def test_unknown_encoder_lists_known_names():
  with pytest.raises(ValueError, match="mlp_skip.*convnet.*realnvp_affine"):
    encoders.build_encoder("resnet", VIEW)


def test_skip_needs_equal_widths():
  with pytest.raises(ValueError, match="skip connection"):
    encoders.MLP(VIEW, [VIEW, 100], skip=True)
  with pytest.raises(ValueError, match="skip connection"):
    encoders.MLP(10, [20, 20], skip=True)


def test_mlp_last_layer_is_linear_and_hidden_relu():
  model = encoders.MLP(VIEW, [64, 32, 8], seed=0)
  assert [l.units for l in model.dense_layers] == [64, 32, 8]
  assert model.dense_layers[0].activation is keras.activations.relu
  assert model.dense_layers[-1].activation is keras.activations.linear
  # A linear last layer gives negative codes; a ReLU one could not.
  assert np.min(model(_views(32))) < 0


def test_mlp_factory_defaults_are_the_papers():
  fig3 = encoders.build_encoder("mlp", VIEW, seed=0)
  assert fig3.layer_sizes == [300, 300, 100] and not fig3.skip
  fig2 = encoders.build_encoder("mlp_skip", VIEW, seed=0)
  assert fig2.layer_sizes == [VIEW] * 5 and fig2.skip
  assert fig2.kernel_init_sd == 1e-4
  kernel = fig2.dense_layers[0].kernel.numpy()
  assert np.abs(kernel).max() <= 2e-4  # Truncated at two sd.
  assert 0.8e-4 < kernel.std() < 1e-4  # Truncation shrinks the sd by ~12%.
  assert all(np.all(l.bias.numpy() == 0) for l in fig2.dense_layers)


def test_mlp_skip_starts_near_identity():
  x = _views(64)
  near = encoders.build_encoder("mlp_skip", VIEW, seed=0)
  assert np.abs(near(x) - x).max() < 1e-2 * np.abs(x).max()
  # The same architecture with default init is far from the identity.
  far = encoders.build_encoder("mlp_skip", VIEW, kernel_init_sd=None, seed=0)
  assert np.abs(far(x) - x).max() > 0.5


@pytest.mark.parametrize("affine", [False, True])
def test_realnvp_starts_near_its_permutation(affine):
  flow = encoders.RealNVP(VIEW, affine=affine, seed=1, **SMALL_FLOW)
  x = _views(16)
  z = flow(x).numpy()
  index = _composed_permutation(flow)
  if affine:
    # softplus(0) + 1e-7 = log 2: at init each coupling scales the transformed
    # half by log 2, so the flow starts near a permuted diagonal map.
    scaled = np.zeros(VIEW)  # How often each output entry was scaled.
    for permutation in flow.permutations:
      scaled[VIEW // 2:] += 1
      scaled = scaled[permutation]
    expected = x[:, index] * np.log(2.0)**scaled
    np.testing.assert_allclose(z, expected, rtol=1e-3, atol=1e-6)
  else:
    np.testing.assert_allclose(z, x[:, index], atol=1e-6)


def test_paper_size_realnvp_variables_and_gradients():
  flow = encoders.build_encoder("realnvp", VIEW, seed=0)
  block = [(196, 512), (512,), (512, 512), (512,), (512, 196), (196,)]
  assert [tuple(v.shape) for v in flow.trainable_variables] == block * 30
  assert _num_params(flow) == 30 * (196 * 512 + 512 + 512 * 512 + 512 +
                                    512 * 196 + 196) == 13_922_040
  assert len({id(v) for v in flow.trainable_variables}) == 180
  x = tf.constant(_views(4))
  with tf.GradientTape() as tape:
    loss = tf.reduce_sum(flow(x) * tf.constant(_views(4, seed=1) - 0.5))
  grads = tape.gradient(loss, flow.trainable_variables)
  assert all(g is not None and np.any(g.numpy() != 0) for g in grads)


def test_paper_size_affine_realnvp_variables():
  flow = encoders.build_encoder("realnvp_affine", VIEW, seed=0)
  block = [(196, 512), (512,), (512, 512), (512,), (512, 392), (392,)]
  assert [tuple(v.shape) for v in flow.trainable_variables] == block * 30


@pytest.mark.parametrize("name", encoders.ENCODER_NAMES)
def test_every_weight_receives_a_gradient(name):
  model = _small(name)
  x = tf.constant(_views(8))
  with tf.GradientTape() as tape:
    codes = model(x)
    weights = tf.constant(
        np.random.default_rng(1).normal(size=codes.shape).astype(np.float32))
    loss = tf.reduce_sum(codes * weights)
  grads = tape.gradient(loss, model.trainable_variables)
  assert len(grads) == len(model.weights) > 0
  for variable, grad in zip(model.trainable_variables, grads):
    assert grad is not None, variable.path
    assert np.any(grad.numpy() != 0), variable.path


def test_realnvp_rejects_a_different_code_size():
  with pytest.raises(ValueError, match="bijection"):
    encoders.build_encoder("realnvp", VIEW, output_dim=100)
  assert encoders.build_encoder(
      "realnvp", VIEW, output_dim=VIEW, **SMALL_FLOW).output_dim == VIEW


@pytest.mark.parametrize("affine", [False, True])
@pytest.mark.parametrize("kernel_init_sd", [1e-4, None])
def test_realnvp_inverse_at_init(affine, kernel_init_sd):
  flow = encoders.RealNVP(VIEW, affine=affine, kernel_init_sd=kernel_init_sd,
                          seed=2, **SMALL_FLOW)
  x = _views(32)
  assert diagnostics.invertibility_error(flow, x, relative=True) < 1e-4
  if kernel_init_sd is None:
    # Glorot init moves the codes far from the permuted input, so the
    # round trip above inverted a real transformation.
    z = flow(x).numpy()
    assert np.abs(z - x[:, _composed_permutation(flow)]).max() > 0.1


@pytest.mark.parametrize("affine", [False, True])
def test_realnvp_inverse_after_training(affine):
  flow = encoders.RealNVP(VIEW, affine=affine, seed=4, **SMALL_FLOW)
  optimizer = keras.optimizers.Adam(1e-3)
  x = tf.constant(_views(64))
  target = tf.constant(
      np.random.default_rng(5).normal(size=(64, VIEW)).astype(np.float32))

  # XLA-compiled, as the training engine runs it.
  @tf.function(jit_compile=True)
  def step(batch):
    with tf.GradientTape() as tape:
      loss = tf.reduce_mean(tf.square(flow(batch) - target))
    grads = tape.gradient(loss, flow.trainable_variables)
    optimizer.apply_gradients(zip(grads, flow.trainable_variables))
    return loss

  before = flow(tf.constant(x.numpy())).numpy()
  first_loss = float(step(x))
  for _ in range(49):
    last_loss = float(step(x))
  after = flow(tf.constant(x.numpy())).numpy()
  assert last_loss < 0.99 * first_loss
  assert np.abs(after - before).max() > 0.1  # The flow really changed.
  fresh = _views(64, seed=6)
  for views in (x.numpy(), fresh):
    assert diagnostics.invertibility_error(flow, views, relative=True) < 1e-4


def test_realnvp_eager_calls_see_weight_updates():
  # A long-lived tfp bijector caches (input, output) pairs by tensor object:
  # after a weight update it would still map these tensors to the old values.
  flow = encoders.RealNVP(VIEW, kernel_init_sd=None, seed=0, **SMALL_FLOW)
  x = tf.constant(_views(4))
  codes = flow(x)
  first = codes.numpy()
  bias = flow.coupling_nets[0].dense_layers[-1].bias
  bias.assign(bias + 1.0)
  second = flow(x).numpy()
  assert np.abs(second - first).max() > 0.5
  # The old codes no longer invert to x under the new weights.
  assert np.abs(flow.inverse(codes).numpy() - x.numpy()).max() > 0.5
  with tf.GradientTape() as tape:
    loss = tf.reduce_sum(flow(x))
  assert tape.gradient(loss, bias) is not None
  np.testing.assert_allclose(flow.inverse(tf.constant(second)), x, atol=1e-5)


def test_realnvp_jit_matches_eager():
  flow = encoders.RealNVP(VIEW, affine=True, kernel_init_sd=None, seed=0,
                          **SMALL_FLOW)
  x = _views(8)
  compiled = tf.function(flow, jit_compile=True)
  inverse = tf.function(flow.inverse, jit_compile=True)
  z = flow(tf.constant(x)).numpy()
  np.testing.assert_allclose(compiled(tf.constant(x)), z, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(inverse(tf.constant(z)), x, atol=1e-4)


@pytest.mark.parametrize("dim,image_shape,conv1_kernel", [
    (392, (14, 28, 1), (5, 5, 1, 64)),
    (1536, (16, 32, 3), (5, 5, 3, 64)),
])
def test_convnet_shapes(dim, image_shape, conv1_kernel):
  model = encoders.build_encoder("convnet", dim, seed=0)
  assert model.image_shape == image_shape
  assert model(_views(6, dim)).shape == (6, 100)
  shapes = [tuple(v.shape) for v in model.trainable_variables]
  assert shapes == [conv1_kernel, (64,), (5, 5, 64, 128), (128,), (128,),
                    (128,), (128, 100), (100,)]
  # Stride 2 "same" twice: 14x28 -> 4x7 and 16x32 -> 4x8, 128 channels.
  features = model.conv2(model.conv1(tf.reshape(_views(2, dim),
                                                (-1,) + image_shape)))
  assert features.shape[1:] == (-(-image_shape[0] // 4),
                                -(-image_shape[1] // 4), 128)


def test_convnet_layer_norm_normalises_each_example():
  model = encoders.build_encoder("convnet", VIEW, seed=0)
  features = model.conv2(model.conv1(tf.reshape(_views(3), (-1, 14, 28, 1))))
  normalized = model.norm(features).numpy()  # Scale 1, bias 0 at init.
  np.testing.assert_allclose(normalized.mean(axis=(1, 2, 3)), 0, atol=1e-5)
  np.testing.assert_allclose(normalized.std(axis=(1, 2, 3)), 1, atol=1e-3)


def test_convnet_image_shape_argument_and_errors():
  model = encoders.ConvNet(VIEW, image_shape=(28, 14, 1), seed=0)
  assert model(_views(2)).shape == (2, 100)
  with pytest.raises(ValueError, match="cannot infer"):
    encoders.ConvNet(500)
  with pytest.raises(ValueError, match="H\\*W\\*C"):
    encoders.ConvNet(VIEW, image_shape=(16, 32, 3))


@pytest.mark.parametrize("name", encoders.ENCODER_NAMES)
def test_seed_determinism_and_config_round_trip(name):
  x = _views(4)
  model = _small(name)
  same = _small(name)
  other = _small(name, seed=4)
  np.testing.assert_array_equal(model(x), same(x))
  assert not np.allclose(model(x), other(x))
  rebuilt = type(model).from_config(model.get_config())
  np.testing.assert_array_equal(rebuilt(x), model(x))
