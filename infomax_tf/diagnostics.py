"""Encoder diagnostics: Jacobian spectra, condition numbers, inverse error.

For an encoder g and a batch x_1..x_B, the per-example Jacobian is
J_b = dg(x_b)/dx_b, of shape [code size, view size]. Its singular values
s_1 >= ... >= s_k (k = min of the two sizes) and its log condition number

    log kappa_b = log(s_1 / s_k)   (natural log)

show how far g is from an isometry; the paper (Fig. 2) reports percentiles of
log kappa over a training batch as training raises the MI estimate. An
invertible encoder is also checked by max_b,i |g^-1(g(x))_bi - x_bi|.

All functions accept any callable encoder mapping float32 [B, d] to [B, m].
"""

import dataclasses
from typing import Any, Callable, Dict, Optional, Sequence

import numpy as np
import tensorflow as tf

# Percentiles reported over a batch (0 and 100 are the min and the max).
DEFAULT_PERCENTILES = (0, 10, 25, 50, 75, 90, 100)


def _jacobian(encoder: Callable[[tf.Tensor], tf.Tensor],
              x: tf.Tensor) -> tf.Tensor:
  with tf.GradientTape() as tape:
    tape.watch(x)
    codes = encoder(x)
  # Vectorised (pfor) per-example Jacobian: one row block per example.
  return tape.batch_jacobian(codes, x)


def make_jacobian_fn(encoder: Callable[[tf.Tensor], tf.Tensor],
                     jit_compile: bool = False):
  """Compiles x -> per-example Jacobians of `encoder`.

  Args:
    encoder: callable mapping float32 [B, d] to [B, m].
    jit_compile: compile with XLA.

  Returns:
    A `tf.function` mapping x [B, d] to J [B, m, d]; keep it to reuse the
    trace across evaluations.
  """
  return tf.function(
      lambda x: _jacobian(encoder, x),
      jit_compile=jit_compile,
      reduce_retracing=True)


def make_singular_values_fn(encoder: Callable[[tf.Tensor], tf.Tensor],
                            jit_compile: bool = False):
  """Compiles x -> singular values of each example's Jacobian.

  Args:
    encoder: callable mapping float32 [B, d] to [B, m].
    jit_compile: compile the Jacobian (not the SVD) with XLA.

  Returns:
    A `tf.function` mapping x [B, d] to s [B, min(m, d)], each row in
    descending order. Keep it to reuse the trace across evaluations.
  """
  jacobian_fn = make_jacobian_fn(encoder, jit_compile=jit_compile)

  # The SVD stays outside XLA: XLA's CPU SVD (Jacobi sweeps) takes minutes
  # for a batch of 392x392 matrices; LAPACK takes about a second.
  def singular_values(x):
    return tf.linalg.svd(jacobian_fn(x), compute_uv=False)

  return tf.function(singular_values, reduce_retracing=True)


def per_example_jacobian(encoder: Callable[[tf.Tensor], tf.Tensor],
                         x: Any) -> np.ndarray:
  """Per-example Jacobians J[b] = d encoder(x)[b] / d x[b], shape [B, m, d]."""
  x = tf.convert_to_tensor(x, dtype=tf.float32)
  return make_jacobian_fn(encoder)(x).numpy()


def log_condition_number(singular_values: Any) -> np.ndarray:
  """Natural log of s_max / s_min for each row of singular values.

  Args:
    singular_values: [..., k] non-negative singular values (any order).

  Returns:
    float64 array [...]; +inf where s_min is 0 (a singular Jacobian).
  """
  s = np.asarray(singular_values, dtype=np.float64)
  with np.errstate(divide="ignore"):
    return np.log(s.max(axis=-1)) - np.log(s.min(axis=-1))


def percentiles(values: Any,
                q: Sequence[float] = DEFAULT_PERCENTILES) -> Dict[float, float]:
  """Percentiles (linear interpolation) of all entries of `values`, by q."""
  flat = np.asarray(values, dtype=np.float64).ravel()
  return {qi: float(v) for qi, v in zip(q, np.percentile(flat, list(q)))}


@dataclasses.dataclass(frozen=True)
class JacobianStats:
  """Jacobian spectrum of an encoder over one batch.

  Attributes:
    singular_values: [B, k] per-example singular values, descending (for
      histograms).
    log_condition: [B] natural-log condition numbers.
    log_condition_percentiles: {q: value} over the batch.
  """
  singular_values: np.ndarray
  log_condition: np.ndarray
  log_condition_percentiles: Dict[float, float]

  def scalars(self, prefix: str = "log_condition") -> Dict[str, float]:
    """Flat {"<prefix>/p50": value, ...} for TensorBoard or JSON."""
    return {
        f"{prefix}/p{q:g}": v for q, v in self.log_condition_percentiles.items()
    }


def jacobian_stats(encoder: Callable[[tf.Tensor], tf.Tensor],
                   x: Any,
                   q: Sequence[float] = DEFAULT_PERCENTILES,
                   singular_values_fn: Optional[Callable] = None
                  ) -> JacobianStats:
  """Singular values and log condition numbers of `encoder`'s Jacobians at x.

  Args:
    encoder: callable mapping float32 [B, d] to [B, m].
    x: the batch, [B, d].
    q: percentiles of log kappa to report.
    singular_values_fn: a `make_singular_values_fn(encoder)` result to reuse
      (avoids retracing at every evaluation); built here when None.

  Returns:
    A `JacobianStats`.
  """
  if singular_values_fn is None:
    singular_values_fn = make_singular_values_fn(encoder)
  s = singular_values_fn(tf.convert_to_tensor(x, dtype=tf.float32)).numpy()
  log_kappa = log_condition_number(s)
  return JacobianStats(
      singular_values=s,
      log_condition=log_kappa,
      log_condition_percentiles=percentiles(log_kappa, q))


def invertibility_error(encoder: Any, x: Any, relative: bool = False) -> float:
  """max |g^-1(g(x)) - x| for an encoder with an `inverse` method.

  Both passes get tensors built afresh from NumPy, so a tfp bijector cache
  keyed on tensor identity cannot hand back the input instead of inverting.

  Args:
    encoder: callable with an `inverse(z)` method.
    x: the batch, [B, d].
    relative: divide by max |x| (scale-free error).

  Returns:
    The maximum absolute (or relative) reconstruction error.
  """
  x = np.asarray(x, dtype=np.float32)
  codes = np.asarray(encoder(tf.constant(x)))
  recovered = np.asarray(encoder.inverse(tf.constant(codes)))
  error = float(np.max(np.abs(recovered.astype(np.float64) - x)))
  if relative:
    error /= max(float(np.max(np.abs(x))), np.finfo(np.float32).tiny)
  return error
