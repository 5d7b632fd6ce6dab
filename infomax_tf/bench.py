r"""Benchmark harness: step times of the paper's configurations.

  python -m infomax_tf.bench                      # every config, 1 seed
  python -m infomax_tf.bench --configs=fig3_bilinear,fig2 --seeds=20
  python -m infomax_tf.bench --json_out=bench.jsonl

Prints one JSON object per configuration:
  {"config", "batch", "params", "median_step_ms", "p10_step_ms",
   "p90_step_ms", "compile_s", "gflop_per_step", "gflops", "seeds", ...}
A step trains every seed once (S seeds share one compiled program), so
`median_step_ms / seeds` is the cost of a seed-step. Medians are over
`--steps` timed steps after `--warmup` untimed ones. FLOPs come from
TensorFlow's graph profiler (matmuls and convolutions, forward and backward).
Timings belong here, never in tests.
"""

import json
import sys
import time
from typing import Any, Callable

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

from infomax_tf import adversarial
from infomax_tf import data as data_lib
from infomax_tf import diagnostics
from infomax_tf import probe
from infomax_tf import train

CONFIGS = ("fig1ab", "fig1c", "fig2", "fig3_bilinear", "fig3_separable",
           "fig3_concat", "fig4ab_mlp", "fig4ab_convnet", "probe")

_CONFIGS = flags.DEFINE_list("configs", list(CONFIGS), "Configurations to "
                             f"time; known: {', '.join(CONFIGS)}.")
_STEPS = flags.DEFINE_integer("steps", 30, "Timed steps per configuration.",
                              lower_bound=1)
_WARMUP = flags.DEFINE_integer("warmup", 3, "Untimed steps after compiling.",
                               lower_bound=0)
_SEEDS = flags.DEFINE_integer("seeds", 1, "Seeds trained together per step.",
                              lower_bound=1)
_BATCH = flags.DEFINE_integer("batch_size", 128, "Batch size K.",
                              lower_bound=2)
_JIT = flags.DEFINE_bool("jit_compile", True, "Compile steps with XLA.")
_PRECISION = flags.DEFINE_enum(
    "precision", "float32", ["float32", "mixed_bfloat16"],
    "Compute precision of the InfoMax steps without Jacobians or inverses.")
_JSON_OUT = flags.DEFINE_string("json_out", None,
                                "Also append the JSON lines to this file.")
_PROBE_EXAMPLES = flags.DEFINE_integer(
    "probe_examples", 60000, "Training examples of the probe benchmark "
    "(MNIST-5k digits repeated with noise, to the paper's 60,000).",
    lower_bound=100)

PAPER_KERNEL_SD = 1e-4
MLP_LAYERS = (300, 300, 100)


def train_configs(jit: bool, batch: int,
                  precision: str = "float32") -> dict[str, train.TrainConfig]:
  """The paper's models for each benchmarked configuration (`precision` for
  those that allow it)."""
  common = dict(batch_size=batch, jit_compile=jit, steps=1, n_evals=1)
  mixed = dict(common, precision=precision)
  mlp = train.EncoderConfig("mlp", layer_sizes=MLP_LAYERS)
  return {
      "fig1ab": train.TrainConfig(
          encoder=train.EncoderConfig("realnvp", num_couplings=30,
                                      hidden_sizes=(512, 512),
                                      kernel_init_sd=PAPER_KERNEL_SD),
          critic="bilinear", **common),
      "fig2": train.TrainConfig(
          encoder=train.EncoderConfig("mlp_skip", num_layers=5,
                                      kernel_init_sd=PAPER_KERNEL_SD),
          critic="bilinear", noise_sd=0.05, jacobian=True, **common),
      "fig3_bilinear": train.TrainConfig(encoder=mlp, critic="bilinear",
                                         **mixed),
      "fig3_separable": train.TrainConfig(encoder=mlp, critic="separable",
                                          **mixed),
      "fig3_concat": train.TrainConfig(encoder=mlp, critic="concat", **mixed),
      "fig4ab_mlp": train.TrainConfig(encoder=mlp, critic="bilinear",
                                      target=2.0, **mixed),
      "fig4ab_convnet": train.TrainConfig(
          encoder=train.EncoderConfig("convnet"), critic="bilinear",
          target=2.0, **mixed),
  }


def graph_gflop(concrete_function) -> float:
  """Float operations of one call, from TensorFlow's graph profiler."""
  # pylint: disable=g-import-not-at-top
  from tensorflow.python.profiler import model_analyzer
  from tensorflow.python.profiler import option_builder
  options = option_builder.ProfileOptionBuilder.float_operation()
  options["output"] = "none"
  profile = model_analyzer.profile(concrete_function.graph, options=options)
  return profile.total_float_ops / 1e9


def _time_calls(call: Callable[[], Any], steps: int,
                warmup: int) -> tuple[float, np.ndarray]:
  tick = time.perf_counter()
  _block(call())
  compile_s = time.perf_counter() - tick
  for _ in range(warmup):
    _block(call())
  times = []
  for _ in range(steps):
    tick = time.perf_counter()
    _block(call())
    times.append(time.perf_counter() - tick)
  return compile_s, np.asarray(times) * 1e3


def _block(result) -> None:
  for value in tf.nest.flatten(result):
    if hasattr(value, "numpy"):
      value.numpy()


def _summary(name, batch, seeds, params, compile_s, times_ms, gflop,
             **extra) -> dict[str, Any]:
  median = float(np.median(times_ms))
  return dict({
      "config": name, "batch": batch, "seeds": seeds, "params": int(params),
      "median_step_ms": round(median, 3),
      "p10_step_ms": round(float(np.percentile(times_ms, 10)), 3),
      "p90_step_ms": round(float(np.percentile(times_ms, 90)), 3),
      "median_seed_step_ms": round(median / seeds, 3),
      "compile_s": round(compile_s, 2),
      "gflop_per_step": round(gflop, 4),
      "gflops": round(gflop / (median / 1e3), 2),
  }, **extra)


def bench_train(name: str, config: train.TrainConfig, views: data_lib.Views,
                seeds: int, steps: int, warmup: int) -> dict[str, Any]:
  """Times the compiled InfoMax step of `seeds` seeds at once."""
  trainees = [train.Trainee(config, views, seed) for seed in range(seeds)]
  step = train.make_train_step(trainees, config)
  batch = config.batch_size
  rng = np.random.default_rng(0)
  batches = tuple(
      (tf.constant(views.x1_train[rng.choice(views.n_train, batch)]),
       tf.constant(views.x2_train[rng.choice(views.n_train, batch)]))
      for _ in range(seeds))
  compile_s, times = _time_calls(lambda: step(batches), steps, warmup)
  gflop = graph_gflop(step.get_concrete_function(batches))
  params = sum(int(np.prod(v.shape)) for v in trainees[0].variables)
  extra = {}
  if config.jacobian:
    singular_values = diagnostics.make_singular_values_fn(trainees[0].g1)
    x = tf.constant(views.x1_train[:batch])
    jac_compile, jac_times = _time_calls(lambda: singular_values(x), 3, 0)
    extra = {"jacobian_eval_ms": round(float(np.median(jac_times)), 1),
             "jacobian_compile_s": round(jac_compile, 2)}
  return _summary(name, batch, seeds, params, compile_s, times, gflop,
                  **extra)


def bench_adversarial(views: data_lib.Views, steps: int, warmup: int,
                      jit: bool, batch: int) -> dict[str, Any]:
  """Times one fig1c iteration (10 classifier steps + 1 encoder step)."""
  config = adversarial.AdversarialConfig(
      encoder=train.EncoderConfig("realnvp_affine", num_couplings=30,
                                  hidden_sizes=(512, 512),
                                  kernel_init_sd=PAPER_KERNEL_SD),
      batch_size=batch, jit_compile=jit)
  stage = adversarial._Stage(config, views, seed=0)  # pylint: disable=protected-access
  rng = np.random.default_rng(0)
  idx = rng.choice(views.n_train, (stage.steps_per_iteration, batch))
  xs = tf.constant(views.x1_train[idx])
  ys = tf.constant(views.y_train[idx])
  compile_s, times = _time_calls(lambda: stage.step(xs, ys), steps, warmup)
  gflop = graph_gflop(stage.step.get_concrete_function(xs, ys))
  params = sum(int(np.prod(v.shape)) for v in
               stage.encoder.trainable_variables +
               stage.classifier.trainable_variables)
  return _summary("fig1c", batch, 1, params, compile_s, times, gflop,
                  step="one iteration: 10 classifier steps + 1 encoder step")


def bench_probe(views: data_lib.Views, examples: int) -> dict[str, Any]:
  """The paper's probe on `examples` x 392 features (MNIST-5k digits
  repeated with fresh noise to reach the paper's training-set size)."""
  rng = np.random.default_rng(0)
  idx = rng.choice(views.n_train, examples)
  train_x = views.x1_train[idx] + rng.normal(0, 0.05, (examples,
                                                       views.view_dim))
  tick = time.perf_counter()
  accuracy = probe.linear_probe_accuracy(train_x, views.y_train[idx],
                                         views.x1_test, views.y_test)
  seconds = time.perf_counter() - tick
  return {"config": "probe", "batch": examples, "seeds": 1,
          "params": views.view_dim * 10 + 10, "median_step_ms":
          round(seconds * 1e3, 1), "p10_step_ms": None, "p90_step_ms": None,
          "compile_s": 0.0, "gflop_per_step": None, "gflops": None,
          "accuracy": accuracy, "variant": "sklearn saga"}


def run_benchmarks(configs, seeds, steps, warmup, jit, batch, probe_examples,
                   precision="float32"):
  """Yields one result dict per configuration, as soon as it is measured."""
  unknown = [c for c in configs if c not in CONFIGS]
  if unknown:
    raise app.UsageError(f"unknown configs {unknown}; known: {CONFIGS}")
  views = data_lib.load_views("mnist5k")
  models = train_configs(jit, batch, precision)
  for name in configs:
    if name == "probe":
      result = bench_probe(views, probe_examples)
    elif name == "fig1c":
      result = bench_adversarial(views, steps, warmup, jit, batch)
    else:
      result = bench_train(name, models[name], views, seeds, steps, warmup)
    result["jit_compile"] = jit
    result["precision"] = models[name].precision if name in models else \
        "float32"
    yield result


def main(argv):
  del argv
  out = open(_JSON_OUT.value, "a") if _JSON_OUT.value else None  # pylint: disable=consider-using-with
  try:
    for result in run_benchmarks(_CONFIGS.value, _SEEDS.value, _STEPS.value,
                                 _WARMUP.value, _JIT.value, _BATCH.value,
                                 _PROBE_EXAMPLES.value, _PRECISION.value):
      line = json.dumps(result, sort_keys=True)
      print(line, flush=True)
      if out:
        out.write(line + "\n")
        out.flush()
  finally:
    if out:
      out.close()


if __name__ == "__main__":
  app.run(main)
