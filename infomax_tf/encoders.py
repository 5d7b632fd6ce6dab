"""Encoders g1, g2: Keras 3 models that map a flattened view to a code.

Three families, as in Tschannen et al. (ICLR 2020):

* `MLP`: dense layers, optionally with a skip connection around every layer
  (`x + layer(x)`); the last layer is linear. With truncated-normal kernels of
  sd 1e-4 and zero biases the skip variant starts close to the identity.
* `ConvNet`: reshape the view to an image; two 5x5 stride-2 ReLU convolutions
  (64, 128 channels); layer norm over (H, W, C); global average pooling;
  a dense code layer.
* `RealNVP`: a chain of `tfp.bijectors.RealNVP` couplings, each followed by a
  fixed random `tfp.bijectors.Permute`. Couplings are additive (shift only,
  volume preserving) or affine with scale = softplus(.) + 1e-7. The flow is
  invertible, so the code carries all the information of the view.

Every encoder takes float32 [batch, input_dim] and owns its weights as Keras
sublayers, so `trainable_variables` holds all of them. `build_encoder` builds
one by name; `is_invertible` says whether an encoder has an `inverse`.
"""

import math
from typing import Any, Optional, Sequence

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

tfb = tfp.bijectors

# Added to the softplus scale of affine couplings so it never reaches zero.
AFFINE_SCALE_EPSILON = 1e-7

# Flattened view size -> (height, width, channels) for the ConvNet: the top
# (or bottom) half of an MNIST / CIFAR-10 image, and the full images.
_IMAGE_SHAPES = {
    392: (14, 28, 1),
    1536: (16, 32, 3),
    784: (28, 28, 1),
    3072: (32, 32, 3),
}


def _resolve_seed(seed: Optional[int]) -> int:
  """Returns `seed`, or draws one from NumPy's global generator.

  Drawing (rather than leaving initialisers unseeded) lets `get_config`
  record the seed, so a model rebuilt from its config is the same model, and
  `keras.utils.set_random_seed` still makes unseeded runs repeatable.
  """
  if seed is None:
    return int(np.random.randint(0, 2**31 - 1))
  return int(seed)


def _derive_seed(seed: int, index: int) -> int:
  """Distinct, deterministic seed for the `index`-th initialiser."""
  return int(np.random.SeedSequence([seed, index]).generate_state(1)[0] >> 1)


def _kernel_initializer(kernel_init_sd: Optional[float], seed: int):
  """Truncated normal with the given sd, else Keras' default Glorot uniform."""
  if kernel_init_sd is None:
    return keras.initializers.GlorotUniform(seed=seed)
  return keras.initializers.TruncatedNormal(stddev=kernel_init_sd, seed=seed)


def _build_dense_stack(dense_layers, width: int) -> None:
  """Builds consecutive Dense layers, each on the previous one's width."""
  for layer in dense_layers:
    layer.build((None, width))
    width = layer.units


def is_invertible(encoder: Any) -> bool:
  """Whether `encoder` is a bijection with an `inverse(z)` method."""
  return bool(getattr(encoder, "invertible", False)) and callable(
      getattr(encoder, "inverse", None))


class MLP(keras.Model):
  """Multi-layer perceptron, optionally with skips around every layer.

  Hidden layers use `activation`; the last layer is linear. With `skip`, each
  layer computes `x + layer(x)`, which needs every width equal to `input_dim`.
  """

  def __init__(self,
               input_dim: int,
               layer_sizes: Sequence[int],
               activation: str = "relu",
               skip: bool = False,
               kernel_init_sd: Optional[float] = None,
               seed: Optional[int] = None,
               **kwargs):
    """Builds the MLP.

    Args:
      input_dim: size of the flattened input view.
      layer_sizes: width of each layer; the last is the code size.
      activation: Keras activation name for all but the last layer.
      skip: add a skip connection around every layer.
      kernel_init_sd: if set, kernels are truncated-normal with this sd
        (biases are always zero); otherwise Glorot uniform.
      seed: makes the initialisation deterministic.
      **kwargs: passed to `keras.Model` (e.g. `name`).

    Raises:
      ValueError: for an empty `layer_sizes`, or, with `skip`, widths that
        differ from `input_dim`.
    """
    super().__init__(**kwargs)
    layer_sizes = [int(size) for size in layer_sizes]
    if not layer_sizes:
      raise ValueError("MLP needs at least one layer size.")
    if skip and any(size != input_dim for size in layer_sizes):
      raise ValueError(
          "A skip connection (x + layer(x)) needs every layer width equal to "
          f"the input size {input_dim}; got layer_sizes={layer_sizes}.")
    self.input_dim = int(input_dim)
    self.layer_sizes = layer_sizes
    self.activation = activation
    self.skip = bool(skip)
    self.kernel_init_sd = kernel_init_sd
    self.seed = _resolve_seed(seed)
    last = len(layer_sizes) - 1
    self.dense_layers = [
        keras.layers.Dense(
            size,
            activation=None if i == last else activation,
            kernel_initializer=_kernel_initializer(
                kernel_init_sd, _derive_seed(self.seed, i)),
            bias_initializer="zeros",
            name=f"dense_{i}") for i, size in enumerate(layer_sizes)
    ]
    self.build((None, self.input_dim))

  @property
  def invertible(self) -> bool:
    return False

  @property
  def output_dim(self) -> int:
    return self.layer_sizes[-1]

  def build(self, input_shape):
    _build_dense_stack(self.dense_layers, input_shape[-1])

  def call(self, inputs):
    x = inputs
    for layer in self.dense_layers:
      x = x + layer(x) if self.skip else layer(x)
    return x

  def get_config(self):
    return {
        "name": self.name,
        "input_dim": self.input_dim,
        "layer_sizes": list(self.layer_sizes),
        "activation": self.activation,
        "skip": self.skip,
        "kernel_init_sd": self.kernel_init_sd,
        "seed": self.seed,
    }


class ChannelLayerNorm(keras.layers.Layer):
  """Layer norm over all of (H, W, C), learned scale and bias per channel.

  Statistics are per example over every non-batch axis; the affine parameters
  are per channel (the convention of `tf.contrib.layers.layer_norm`, which the
  paper's TF1 code base used), not per (h, w, c) position.
  """

  def __init__(self, epsilon: float = 1e-6, **kwargs):
    super().__init__(**kwargs)
    self.epsilon = epsilon

  def build(self, input_shape):
    channels = input_shape[-1]
    self.scale = self.add_weight(
        shape=(channels,), initializer="ones", name="scale")
    self.bias = self.add_weight(
        shape=(channels,), initializer="zeros", name="bias")

  def call(self, inputs):
    mean, variance = tf.nn.moments(inputs, axes=[1, 2, 3], keepdims=True)
    normalized = (inputs - mean) * tf.math.rsqrt(variance + self.epsilon)
    return normalized * self.scale + self.bias

  def get_config(self):
    return {**super().get_config(), "epsilon": self.epsilon}


class ConvNet(keras.Model):
  """The paper's convolutional encoder for image halves.

  reshape -> Conv(64, 5x5, stride 2, same, ReLU) -> Conv(128, 5x5, stride 2,
  same, ReLU) -> layer norm over (H, W, C) -> global average pool -> Dense.
  """

  def __init__(self,
               input_dim: int,
               output_dim: int = 100,
               image_shape: Optional[Sequence[int]] = None,
               channels: int = 64,
               kernel_size: int = 5,
               seed: Optional[int] = None,
               **kwargs):
    """Builds the ConvNet.

    Args:
      input_dim: size of the flattened view (row-major H, W, C).
      output_dim: code size.
      image_shape: (H, W, C) of the view; inferred from `input_dim` when None
        (392 -> 14x28x1 MNIST half, 1536 -> 16x32x3 CIFAR-10 half, 784 and
        3072 -> full images). Left/right halves need it explicitly (28x14x1).
      channels: channels of the first convolution; the second has twice.
      kernel_size: convolution kernel size.
      seed: makes the initialisation deterministic.
      **kwargs: passed to `keras.Model`.

    Raises:
      ValueError: if the image shape cannot be inferred or does not hold
        `input_dim` values.
    """
    super().__init__(**kwargs)
    if image_shape is None:
      if input_dim not in _IMAGE_SHAPES:
        raise ValueError(
            f"ConvNet cannot infer an image shape for input size {input_dim}; "
            f"known sizes: {sorted(_IMAGE_SHAPES)}. Pass image_shape=(H, W, C)."
        )
      image_shape = _IMAGE_SHAPES[input_dim]
    image_shape = tuple(int(d) for d in image_shape)
    if len(image_shape) != 3 or math.prod(image_shape) != input_dim:
      raise ValueError(
          f"image_shape {image_shape} must be (H, W, C) with H*W*C equal to "
          f"the input size {input_dim}.")
    self.input_dim = int(input_dim)
    self.output_dim = int(output_dim)
    self.image_shape = image_shape
    self.channels = int(channels)
    self.kernel_size = int(kernel_size)
    self.seed = _resolve_seed(seed)
    self.conv1 = keras.layers.Conv2D(
        channels, kernel_size, strides=2, padding="same", activation="relu",
        kernel_initializer=keras.initializers.GlorotUniform(
            _derive_seed(self.seed, 0)), name="conv1")
    self.conv2 = keras.layers.Conv2D(
        2 * channels, kernel_size, strides=2, padding="same",
        activation="relu",
        kernel_initializer=keras.initializers.GlorotUniform(
            _derive_seed(self.seed, 1)), name="conv2")
    self.norm = ChannelLayerNorm(name="layer_norm")
    self.code = keras.layers.Dense(
        output_dim,
        kernel_initializer=keras.initializers.GlorotUniform(
            _derive_seed(self.seed, 2)), name="code")
    self.build((None, self.input_dim))

  @property
  def invertible(self) -> bool:
    return False

  def build(self, input_shape):
    shape = (None,) + self.image_shape
    self.conv1.build(shape)
    shape = self.conv1.compute_output_shape(shape)
    self.conv2.build(shape)
    shape = self.conv2.compute_output_shape(shape)
    self.norm.build(shape)
    self.code.build((None, shape[-1]))

  def call(self, inputs):
    x = tf.reshape(inputs, (-1,) + self.image_shape)
    x = self.norm(self.conv2(self.conv1(x)))
    return self.code(tf.reduce_mean(x, axis=[1, 2]))

  def get_config(self):
    return {
        "name": self.name,
        "input_dim": self.input_dim,
        "output_dim": self.output_dim,
        "image_shape": list(self.image_shape),
        "channels": self.channels,
        "kernel_size": self.kernel_size,
        "seed": self.seed,
    }


class CouplingNet(keras.layers.Layer):
  """Conditioner of one coupling: hidden ReLU layers, then a linear layer."""

  def __init__(self,
               hidden_sizes: Sequence[int],
               output_dim: int,
               kernel_init_sd: Optional[float],
               seed: int,
               **kwargs):
    super().__init__(**kwargs)
    self.hidden_sizes = [int(size) for size in hidden_sizes]
    self.output_dim = int(output_dim)
    self.kernel_init_sd = kernel_init_sd
    self.seed = int(seed)
    sizes = self.hidden_sizes + [self.output_dim]
    self.dense_layers = [
        keras.layers.Dense(
            size,
            activation="relu" if i < len(self.hidden_sizes) else None,
            kernel_initializer=_kernel_initializer(
                kernel_init_sd, _derive_seed(self.seed, i)),
            bias_initializer="zeros",
            name=f"dense_{i}") for i, size in enumerate(sizes)
    ]

  def build(self, input_shape):
    _build_dense_stack(self.dense_layers, input_shape[-1])

  def call(self, inputs):
    x = inputs
    for layer in self.dense_layers:
      x = layer(x)
    return x

  def get_config(self):
    return {
        **super().get_config(),
        "hidden_sizes": list(self.hidden_sizes),
        "output_dim": self.output_dim,
        "kernel_init_sd": self.kernel_init_sd,
        "seed": self.seed,
    }


class RealNVP(keras.Model):
  """Invertible encoder: RealNVP couplings, each then a random permutation.

  Coupling k keeps the first `input_dim // 2` entries x0 and maps the rest x1
  to `x1 + t(x0)` (additive) or `x1 * (softplus(s(x0)) + 1e-7) + t(x0)`
  (affine); a fixed random permutation then mixes the entries. The conditioner
  nets are Keras layers owned by this model.

  The tfp bijector chain is rebuilt on every call and every `inverse`
  (`make_bijector`). A bijector caches (input, output) pairs keyed on tensor
  objects, so a long-lived chain would answer stale values (and no gradient)
  for tensors it saw before a weight update, e.g. inverse(old codes) -> x.
  """

  def __init__(self,
               input_dim: int,
               num_couplings: int = 30,
               hidden_sizes: Sequence[int] = (512, 512),
               affine: bool = False,
               kernel_init_sd: Optional[float] = 1e-4,
               output_dim: Optional[int] = None,
               seed: Optional[int] = None,
               **kwargs):
    """Builds the flow.

    Args:
      input_dim: size of the flattened view (and of the code).
      num_couplings: number of coupling layers (each followed by a permutation).
      hidden_sizes: hidden widths of each coupling net (ReLU).
      affine: affine couplings (scale = softplus + 1e-7) instead of additive.
      kernel_init_sd: truncated-normal sd of every kernel (biases zero); None
        uses Glorot uniform. The paper's 1e-4 starts near a permutation.
      output_dim: optional code size; must equal `input_dim` (a flow keeps
        the dimension). Accepted so factories can pass it uniformly.
      seed: makes weights and permutations deterministic.
      **kwargs: passed to `keras.Model`.

    Raises:
      ValueError: if `output_dim` differs from `input_dim`, `input_dim` < 2,
        or `num_couplings` < 1.
    """
    super().__init__(**kwargs)
    if output_dim is not None and int(output_dim) != int(input_dim):
      raise ValueError(
          f"RealNVP is a bijection: its code size equals its input size "
          f"({input_dim}); got output_dim={output_dim}.")
    if input_dim < 2:
      raise ValueError(f"RealNVP needs input_dim >= 2, got {input_dim}.")
    if num_couplings < 1:
      raise ValueError(
          f"RealNVP needs num_couplings >= 1, got {num_couplings}.")
    self.input_dim = int(input_dim)
    self.num_couplings = int(num_couplings)
    self.hidden_sizes = [int(size) for size in hidden_sizes]
    self.affine = bool(affine)
    self.kernel_init_sd = kernel_init_sd
    self.seed = _resolve_seed(seed)
    self._num_masked = self.input_dim // 2
    transformed = self.input_dim - self._num_masked
    rng = np.random.default_rng(self.seed)
    # Plain NumPy constants, not variables: they are part of the architecture.
    self._permutations = tuple(
        rng.permutation(self.input_dim).astype(np.int32)
        for _ in range(self.num_couplings))
    self.coupling_nets = [
        CouplingNet(
            self.hidden_sizes,
            (2 if self.affine else 1) * transformed,
            kernel_init_sd,
            seed=_derive_seed(self.seed, k),
            name=f"coupling_{k}") for k in range(self.num_couplings)
    ]
    self.build((None, self.input_dim))

  @property
  def invertible(self) -> bool:
    return True

  @property
  def output_dim(self) -> int:
    return self.input_dim

  @property
  def permutations(self) -> tuple:
    """The permutation applied after each coupling, in order (int32 arrays)."""
    return self._permutations

  def build(self, input_shape):
    for net in self.coupling_nets:
      net.build((None, self._num_masked))

  def _coupling_fn(self, net: CouplingNet):
    """`bijector_fn` for `tfb.RealNVP` that calls `net` on the kept half."""
    # tfp passes the transformed size as a positional int; Keras 3 layers
    # reject non-tensor positional arguments, so it is dropped here.
    if self.affine:
      def bijector_fn(x0, _, **unused_conditions):
        shift, pre_scale = tf.split(net(x0), 2, axis=-1)
        scale = tf.nn.softplus(pre_scale) + AFFINE_SCALE_EPSILON
        return tfb.Chain([tfb.Shift(shift), tfb.Scale(scale)])
    else:
      def bijector_fn(x0, _, **unused_conditions):
        return tfb.Shift(net(x0))
    return bijector_fn

  def make_bijector(self) -> tfb.Bijector:
    """A fresh tfp bijector for the flow (forward = encode), sharing weights."""
    steps = []
    for k, (net, permutation) in enumerate(
        zip(self.coupling_nets, self._permutations)):
      steps.append(
          tfb.RealNVP(
              num_masked=self._num_masked,
              bijector_fn=self._coupling_fn(net),
              is_constant_jacobian=not self.affine,
              name=f"coupling_{k}"))
      steps.append(tfb.Permute(permutation=permutation, name=f"permute_{k}"))
    # tfb.Chain applies its list last-to-first.
    return tfb.Chain(steps[::-1], name="realnvp")

  def call(self, inputs):
    return self.make_bijector().forward(inputs)

  def inverse(self, codes):
    """Maps codes back to views: inverse(call(x)) == x up to float error."""
    return self.make_bijector().inverse(
        tf.convert_to_tensor(codes, dtype=self.compute_dtype))

  def get_config(self):
    return {
        "name": self.name,
        "input_dim": self.input_dim,
        "num_couplings": self.num_couplings,
        "hidden_sizes": list(self.hidden_sizes),
        "affine": self.affine,
        "kernel_init_sd": self.kernel_init_sd,
        "seed": self.seed,
    }


ENCODER_NAMES = ("mlp", "mlp_skip", "convnet", "realnvp", "realnvp_affine")


def build_encoder(name: str, input_dim: int, **kwargs) -> keras.Model:
  """Builds an encoder by name, with the paper's settings as defaults.

  * "mlp": `MLP` with layer_sizes [300, 300, 100], ReLU, default init (fig3).
  * "mlp_skip": `MLP` with 5 layers of `input_dim` units, skips, kernel sd
    1e-4 (fig2).
  * "convnet": `ConvNet` with a 100-d code (fig4).
  * "realnvp": additive `RealNVP`, 30 couplings of [512, 512], sd 1e-4 (fig1ab).
  * "realnvp_affine": the same with affine couplings (fig1c).

  Args:
    name: one of `ENCODER_NAMES`.
    input_dim: size of the flattened view.
    **kwargs: override the defaults (constructor arguments of the class).
      "mlp" also accepts `output_dim`, the size of its last layer.

  Returns:
    A built Keras model.

  Raises:
    ValueError: for an unknown name or inconsistent arguments.
  """
  if name == "mlp":
    output_dim = kwargs.pop("output_dim", None)
    if "layer_sizes" not in kwargs:
      kwargs["layer_sizes"] = [300, 300, output_dim or 100]
    elif output_dim is not None and kwargs["layer_sizes"][-1] != output_dim:
      raise ValueError(f"output_dim={output_dim} disagrees with layer_sizes="
                       f"{kwargs['layer_sizes']}.")
    return MLP(input_dim, **kwargs)
  if name == "mlp_skip":
    output_dim = kwargs.pop("output_dim", None)
    if output_dim is not None and output_dim != input_dim:
      raise ValueError(f"mlp_skip keeps the input size {input_dim}; got "
                       f"output_dim={output_dim}.")
    kwargs.setdefault("layer_sizes", [input_dim] * 5)
    kwargs.setdefault("kernel_init_sd", 1e-4)
    return MLP(input_dim, skip=True, **kwargs)
  if name == "convnet":
    return ConvNet(input_dim, **kwargs)
  if name == "realnvp":
    return RealNVP(input_dim, affine=False, **kwargs)
  if name == "realnvp_affine":
    return RealNVP(input_dim, affine=True, **kwargs)
  raise ValueError(
      f"Unknown encoder {name!r}; known encoders: {', '.join(ENCODER_NAMES)}.")
