"""Critics: Keras layers mapping two batches of codes to a K x K score matrix.

A critic f scores every pair of a batch: `critic(z1, z2)` with z1 [K, d1] and
z2 [K, d2] returns `scores[i, j] = f(z1[i], z2[j])`, [K, K] float32, positive
pairs on the diagonal, ready for `infomax_tf.estimators`. The four critics of
Tschannen et al. (2020):

  inner      f(x, y) = x . y                                   (no weights)
  bilinear   f(x, y) = x^T W y, W a bias-free Dense d x d      (d^2 weights)
  separable  f(x, y) = phi1(x) . phi2(y), two MLPs, default one hidden layer of
             100 ReLU units and 100 outputs
  concat     f(x, y) = phi([x, y]), one MLP with a scalar output ("MLP
             critic"), default one hidden layer of 200 ReLU units

For 100-d codes: bilinear 10,000 weights, separable 40,400, concat 40,401.

All layers take an optional integer `seed` for deterministic initialisers
(each sublayer gets its own seed, derived from it), and implement
`get_config`, so `Critic.from_config(critic.get_config())` rebuilds them.
"""

from typing import Optional, Sequence

import keras
import tensorflow as tf


def _kernel_initializer(seed: Optional[int], offset: int):
  """Keras' default Dense initialiser, seeded per sublayer when seed is set."""
  if seed is None:
    return "glorot_uniform"
  return keras.initializers.GlorotUniform(seed=seed + offset)


def _mlp_layers(hidden_units: Sequence[int], output_dim: int, activation: str,
                seed: Optional[int], seed_offset: int, name: str):
  """Dense layers of an MLP: hidden layers with `activation`, linear output."""
  layers = []
  for index, units in enumerate(tuple(hidden_units) + (output_dim,)):
    is_output = index == len(hidden_units)
    layers.append(keras.layers.Dense(
        units,
        activation=None if is_output else activation,
        kernel_initializer=_kernel_initializer(seed, seed_offset + index),
        name=f"{name}_{'out' if is_output else f'hidden{index}'}"))
  return layers


def _apply(layers, inputs):
  for layer in layers:
    inputs = layer(inputs)
  return inputs


def _build_mlp(layers, input_dim: int):
  for layer in layers:
    layer.build((None, input_dim))
    input_dim = layer.units


class InnerProductCritic(keras.layers.Layer):
  """f(x, y) = x . y; no weights. Needs codes of equal dimension.

  Args:
    seed: accepted (and unused) so that every critic takes the same options.
    **kwargs: `keras.layers.Layer` arguments.
  """

  def __init__(self, seed: Optional[int] = None, **kwargs):
    # Always float32, even under a mixed-precision policy: it has no weights,
    # so bfloat16 would save nothing, and rounding its scores would break
    # I_NCE(z1 z2ᵀ) ≡ log K − L_K-pair(z1, z2), which claim 4 checks.
    kwargs.setdefault("dtype", "float32")
    super().__init__(**kwargs)
    self.seed = seed

  def get_config(self):
    config = super().get_config()
    config.update(seed=self.seed)
    return config

  def call(self, z1, z2):
    """Scores every pair.

    Args:
      z1: [K, d] codes of the first view.
      z2: [K, d] codes of the second view.

    Returns:
      [K, K] float32 `Tensor`, `scores[i, j] = z1[i] . z2[j]`.
    """
    return tf.matmul(z1, z2, transpose_b=True)


class BilinearCritic(keras.layers.Layer):
  """f(x, y) = x^T W y, with W a bias-free Dense layer applied to y.

  Args:
    seed: optional int for a deterministic initialiser.
    **kwargs: `keras.layers.Layer` arguments (name, dtype, ...).
  """

  def __init__(self, seed: Optional[int] = None, **kwargs):
    super().__init__(**kwargs)
    self.seed = seed
    self._projection = None

  def build(self, z1_shape, z2_shape):
    # W maps y's space to x's, so the two views may differ in dimension.
    self._projection = keras.layers.Dense(
        int(z1_shape[-1]), use_bias=False,
        kernel_initializer=_kernel_initializer(self.seed, 0), name="w")
    self._projection.build((None, int(z2_shape[-1])))

  def call(self, z1, z2):
    """Scores every pair.

    Args:
      z1: [K, d1] codes of the first view.
      z2: [K, d2] codes of the second view.

    Returns:
      [K, K] float32 `Tensor`, `scores[i, j] = z1[i]^T W z2[j]`.
    """
    return tf.matmul(z1, self._projection(z2), transpose_b=True)

  def get_config(self):
    config = super().get_config()
    config.update(seed=self.seed)
    return config


class SeparableCritic(keras.layers.Layer):
  """f(x, y) = phi1(x) . phi2(y), with phi1 and phi2 two MLPs.

  Args:
    hidden_units: widths of each MLP's hidden layers (paper: (100,)).
    output_dim: embedding width of each MLP (paper: 100).
    activation: hidden activation (paper: "relu").
    seed: optional int for deterministic initialisers.
    **kwargs: `keras.layers.Layer` arguments.
  """

  def __init__(self, hidden_units: Sequence[int] = (100,),
               output_dim: int = 100, activation: str = "relu",
               seed: Optional[int] = None, **kwargs):
    super().__init__(**kwargs)
    self.hidden_units = tuple(int(u) for u in hidden_units)
    self.output_dim = int(output_dim)
    self.activation = activation
    self.seed = seed
    num_layers = len(self.hidden_units) + 1
    self.phi1 = _mlp_layers(self.hidden_units, self.output_dim, activation,
                            seed, 0, "phi1")
    self.phi2 = _mlp_layers(self.hidden_units, self.output_dim, activation,
                            seed, num_layers, "phi2")

  def build(self, z1_shape, z2_shape):
    _build_mlp(self.phi1, int(z1_shape[-1]))
    _build_mlp(self.phi2, int(z2_shape[-1]))

  def embed(self, z1, z2):
    """Returns (phi1(z1), phi2(z2)), each [K, output_dim]."""
    return _apply(self.phi1, z1), _apply(self.phi2, z2)

  def call(self, z1, z2):
    """Scores every pair.

    Args:
      z1: [K, d1] codes of the first view.
      z2: [K, d2] codes of the second view.

    Returns:
      [K, K] float32 `Tensor`, `scores[i, j] = phi1(z1[i]) . phi2(z2[j])`.
    """
    embedded1, embedded2 = self.embed(z1, z2)
    return tf.matmul(embedded1, embedded2, transpose_b=True)

  def get_config(self):
    config = super().get_config()
    config.update(hidden_units=list(self.hidden_units),
                  output_dim=self.output_dim, activation=self.activation,
                  seed=self.seed)
    return config


class ConcatCritic(keras.layers.Layer):
  """f(x, y) = phi([x, y]), one MLP with a scalar output, on all K x K pairs.

  Evaluating phi on the K^2 concatenated pairs [K^2, d1 + d2] costs
  K^2 (d1 + d2) memory and first-layer work. The first layer is linear before
  its activation, W [x; y] + b = W_x x + W_y y + b, so it is computed as
  z1 W_x [K, 1, H] + z2 W_y [1, K, H] broadcast to [K, K, H]: the same
  function, with the same weights as a Dense layer on the concatenation,
  without materialising the pairs (about 0.2 GB at K = 512, H = 200 where the
  concatenation alone would be 0.8 GB at d = 392). Later layers act on
  [K, K, H].

  Args:
    hidden_units: hidden layer widths (paper: (200,); fig. 4c: (10,) * 5).
    activation: hidden activation (paper: "relu").
    seed: optional int for deterministic initialisers.
    **kwargs: `keras.layers.Layer` arguments.
  """

  def __init__(self, hidden_units: Sequence[int] = (200,),
               activation: str = "relu", seed: Optional[int] = None,
               **kwargs):
    super().__init__(**kwargs)
    self.hidden_units = tuple(int(u) for u in hidden_units)
    self.activation = activation
    self.seed = seed
    self.phi = _mlp_layers(self.hidden_units, 1, activation, seed, 0, "phi")
    self._z1_dim = None

  def build(self, z1_shape, z2_shape):
    self._z1_dim = int(z1_shape[-1])
    _build_mlp(self.phi, self._z1_dim + int(z2_shape[-1]))

  def score_concatenated(self, pairs):
    """phi on explicit concatenated pairs.

    Args:
      pairs: [N, d1 + d2], rows [x, y].

    Returns:
      [N] float32 `Tensor` of scores.
    """
    return tf.squeeze(_apply(self.phi, pairs), axis=-1)

  def call(self, z1, z2):
    """Scores every pair.

    Args:
      z1: [K, d1] codes of the first view.
      z2: [K, d2] codes of the second view.

    Returns:
      [K, K] float32 `Tensor`, `scores[i, j] = phi([z1[i], z2[j]])`.
    """
    first = self.phi[0]
    kernel = first.kernel
    pre_activation = (
        tf.matmul(z1, kernel[:self._z1_dim])[:, tf.newaxis, :]
        + tf.matmul(z2, kernel[self._z1_dim:])[tf.newaxis, :, :]
        + first.bias)
    hidden = first.activation(pre_activation)
    # Dense layers act on the last axis, so [K, K, H] needs no reshape.
    return tf.squeeze(_apply(self.phi[1:], hidden), axis=-1)

  def get_config(self):
    config = super().get_config()
    config.update(hidden_units=list(self.hidden_units),
                  activation=self.activation, seed=self.seed)
    return config


CRITICS = ("inner", "bilinear", "separable", "concat")
_ALIASES = {"mlp": "concat"}
_CRITIC_CLASSES = {
    "inner": InnerProductCritic,
    "bilinear": BilinearCritic,
    "separable": SeparableCritic,
    "concat": ConcatCritic,
}


def get_critic(name: str, **kwargs) -> keras.layers.Layer:
  """Builds a critic by name.

  Args:
    name: one of `CRITICS`, or "mlp" (= "concat"); any case.
    **kwargs: constructor arguments, e.g. `hidden_units`, `output_dim`,
      `seed`.

  Returns:
    A new, unbuilt critic layer.

  Raises:
    ValueError: for an unknown name; the message lists the known names.
  """
  key = str(name).strip().lower()
  key = _ALIASES.get(key, key)
  if key not in _CRITIC_CLASSES:
    known = ", ".join(CRITICS + tuple(sorted(_ALIASES)))
    raise ValueError(f"Unknown critic {name!r}; known: {known}.")
  return _CRITIC_CLASSES[key](**kwargs)
