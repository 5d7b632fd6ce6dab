"""Command-line flags and their translation into `config.RunConfig`.

Profiles are absl flagfiles under `flags/<profile>/`; `--profile=paper` is the
same as passing `--flagfile=flags/paper/profile.flags` first, so any flag given
explicitly on the command line overrides the profile. Flag defaults are the
paper's protocol (`config.Settings`); experiment flags are generated from its
fields so the two cannot drift apart.
"""

import dataclasses
import math
import os
import typing
from typing import Sequence

from absl import flags

from infomax_tf import config
from infomax_tf import critics
from infomax_tf import data
from infomax_tf import estimators

FLAGS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))), "flags")

_CLAIM = flags.DEFINE_enum(
    "claim", None, config.CLAIMS,
    "Which claim of the paper to reproduce: 1 (large MI is not predictive of "
    "accuracy), 2 (critic capacity), 3 (encoder architecture), 4 (I_NCE as "
    "metric learning), or all.")
_BASELINE = flags.DEFINE_bool(
    "baseline", False,
    "Run only the pixel baseline: the linear probe on the noisy (sd 0.05) "
    "first view; writes <workdir>/baseline.json.")
_PROFILE = flags.DEFINE_enum(
    "profile", "quick", config.PROFILES,
    "Settings profile (flags/<profile>/profile.flags): smoke (seconds, for "
    "tests), quick (minutes on a laptop CPU, embedded MNIST-5k), paper (the "
    "paper's exact protocol). Explicit flags override the profile.")
_WORKDIR = flags.DEFINE_string(
    "workdir", "./runs", "Directory for every artifact (runs, TensorBoard "
    "events, exports, verdicts). Any filesystem tf.io.gfile supports.")
_SEEDS = flags.DEFINE_integer(
    "seeds", 3, "Number of seeds (0 .. seeds-1) per configuration.",
    lower_bound=1)
_DATASET = flags.DEFINE_enum(
    "dataset", "mnist", data.DATASETS,
    "Dataset: tfds mnist / fashion_mnist / cifar10, the embedded mnist5k, or "
    "idx (with --data_dir). MNIST falls back to mnist5k when offline.")
_DATA_DIR = flags.DEFINE_string(
    "data_dir", None, "A folder of MNIST-format IDX files "
    "(train-images-idx3-ubyte, ... each optionally .gz); used instead of tfds.")
_VIEW = flags.DEFINE_enum(
    "view", "top_bottom", data.VIEWS,
    "How an image splits into the two views: the paper's top/bottom halves, "
    "or left/right halves.")
_FORCE = flags.DEFINE_bool(
    "force", False, "Rerun every stage, even those whose recorded inputs, "
    "parameters and code version match (their outputs are replaced).")
_RUNNER = flags.DEFINE_enum(
    "runner", "local", config.RUNNERS,
    "local: run stages in this process (default). beam: run a claim's "
    "independent training runs as elements of an Apache Beam pipeline.")
_BEAM_OPTIONS = flags.DEFINE_string(
    "beam_options", "", "Beam pipeline options for --runner=beam, e.g. "
    "\"--runner=DirectRunner --direct_num_workers=2 "
    "--direct_running_mode=multi_processing\".")

# Settings fields with a flag of their own above (or no flag).
_EXPLICIT = {"data", "workdir", "profile", "seeds", "force", "runner",
             "beam_options"}

_HELP = {
    "beam_stage_attempts": "--runner=beam: attempts per training stage in a "
                           "worker (each retry resumes from the stage's last "
                           "checkpoint), on top of the runner's own retries.",
    "batch_size": "Training batch size K (the bound's number of pairs).",
    "eval_batch_size": "Batch size of test I_EST evaluation.",
    "bounds": "MI bounds to train with (registry names, e.g. nce,nwj).",
    "seeds_per_program": "Seeds trained together in one compiled program "
                         "(0: all).",
    "jit_compile": "Compile training steps with XLA.",
    "precision": "float32, or mixed_bfloat16 (bf16 compute, float32 weights "
                 "and bounds) for fig3 and fig4ab.",
    "export": "Export trained encoders as SavedModels.",
    "fig1ab_steps": "fig1ab: training steps.",
    "fig1ab_learning_rate": "fig1ab: Adam learning rate.",
    "fig1ab_evals": "fig1ab: evaluations after step 0.",
    "fig1ab_couplings": "fig1ab: RealNVP coupling layers.",
    "fig1ab_hidden": "fig1ab: hidden widths of each coupling network.",
    "fig1c_warmup_steps": "fig1c: classifier warm-up steps.",
    "fig1c_iterations": "fig1c: adversarial iterations.",
    "fig1c_eval_every": "fig1c: iterations between evaluations.",
    "fig1c_couplings": "fig1c: RealNVP coupling layers.",
    "fig1c_hidden": "fig1c: hidden widths of each coupling network.",
    "fig1c_encoder_learning_rate": "fig1c: the encoder's learning rate.",
    "fig2_steps": "fig2: training steps.",
    "fig2_learning_rate": "fig2: Adam learning rate.",
    "fig2_evals": "fig2: evaluations after step 0.",
    "fig2_layers": "fig2: layers of the skip-connection MLP.",
    "fig2_noise_sd": "fig2: sd of the Gaussian noise on both views.",
    "fig2_jacobian_batch": "fig2: training examples whose Jacobians are "
                           "measured at each evaluation.",
    "fig3_steps": "fig3: training steps.",
    "fig3_learning_rate": "fig3: Adam learning rate.",
    "fig3_evals": "fig3: evaluations after step 0.",
    "fig3_critics": "fig3: critics to compare.",
    "fig4ab_steps": "fig4ab: training steps.",
    "fig4ab_learning_rate": "fig4ab: Adam learning rate.",
    "fig4ab_evals": "fig4ab: evaluations after step 0.",
    "fig4ab_targets": "fig4ab: target MI values t of the loss |I_EST - t|.",
    "kpair_steps": "kpair: training steps.",
    "kpair_learning_rate": "kpair: Adam learning rate.",
    "kpair_evals": "kpair: evaluations after step 0.",
    "kpair_triplet_margin": "kpair: margin of the triplet loss.",
    "fig4c_steps": "fig4c: training steps.",
    "fig4c_record_every": "fig4c: steps per recorded (averaged) estimate.",
    "fig4c_learning_rate": "fig4c: the critic's learning rate.",
}


def _define_setting_flags() -> dict:
  """One flag per experiment setting, typed after its dataclass field."""
  defined = {}
  hints = typing.get_type_hints(config.Settings)
  for field in dataclasses.fields(config.Settings):
    if field.name in _EXPLICIT:
      continue
    hint, default, help_text = hints[field.name], field.default, \
        _HELP[field.name]
    if hint is bool:
      holder = flags.DEFINE_bool(field.name, default, help_text)
    elif hint is int:
      holder = flags.DEFINE_integer(field.name, default, help_text,
                                    lower_bound=0)
    elif hint is float:
      holder = flags.DEFINE_float(field.name, default, help_text)
    elif typing.get_origin(hint) is tuple:
      item_type = typing.get_args(hint)[0]
      holder = flags.DEFINE_list(field.name, [str(v) for v in default],
                                 f"{help_text} Comma-separated.")
      _register_list_parser(field.name, item_type)
    else:
      holder = flags.DEFINE_string(field.name, default, help_text)
    defined[field.name] = holder
  return defined


_ITEM_TYPES = {}


def _register_list_parser(name, item_type):
  _ITEM_TYPES[name] = item_type

  def parses(values):
    try:
      [item_type(v) for v in values]
    except ValueError:
      return False
    return bool(values)

  flags.register_validator(
      name, parses,
      message=f"--{name} must be a non-empty comma-separated list of "
      f"{item_type.__name__} values")


_SETTING_FLAGS = _define_setting_flags()


def _positive(name):
  flags.register_validator(name, lambda v: v > 0,
                           message=f"--{name} must be > 0")


for _name in ("beam_stage_attempts", "batch_size", "eval_batch_size", "fig1ab_steps", "fig1ab_evals",
              "fig1ab_couplings", "fig1c_iterations", "fig1c_eval_every",
              "fig1c_couplings", "fig2_steps", "fig2_evals", "fig2_layers", "fig2_jacobian_batch",
              "fig3_steps", "fig3_evals", "fig4ab_steps", "fig4ab_evals",
              "kpair_steps", "kpair_evals", "fig4c_steps",
              "fig4c_record_every", "fig1ab_learning_rate", "fig2_learning_rate",
              "fig3_learning_rate", "fig4ab_learning_rate",
              "kpair_learning_rate", "fig1c_encoder_learning_rate",
              "fig4c_learning_rate"):
  _positive(_name)

flags.register_validator(
    "precision", lambda v: v in config.PRECISIONS,
    message=f"--precision must be one of {', '.join(config.PRECISIONS)}")
flags.register_validator("batch_size", lambda v: v >= 2,
                         message="--batch_size must be >= 2 (a bound needs "
                         "negatives)")
flags.register_validator("eval_batch_size", lambda v: v >= 2,
                         message="--eval_batch_size must be >= 2")

for _experiment in ("fig1ab", "fig2", "fig3", "fig4ab", "kpair"):
  flags.register_multi_flags_validator(
      [f"{_experiment}_steps", f"{_experiment}_evals"],
      lambda values, e=_experiment: values[f"{e}_evals"] <= values[
          f"{e}_steps"],
      message=f"--{_experiment}_evals cannot exceed --{_experiment}_steps")

flags.register_multi_flags_validator(
    ["fig1c_iterations", "fig1c_eval_every"],
    lambda v: v["fig1c_eval_every"] <= v["fig1c_iterations"],
    message="--fig1c_eval_every cannot exceed --fig1c_iterations")
flags.register_validator(
    "bounds", lambda names: all(_known(estimators.canonical_name, n)
                                for n in names),
    message=f"--bounds: unknown bound; known: {', '.join(estimators.ESTIMATORS)}")
flags.register_validator(
    "fig3_critics", lambda names: all(_known(critics.get_critic, n)
                                      for n in names),
    message=f"--fig3_critics: unknown critic; known: "
    f"{', '.join(critics.CRITICS)}")


def _known(lookup, name) -> bool:
  try:
    lookup(name)
  except ValueError:
    return False
  return True


def _targets_reachable(values) -> bool:
  try:
    targets = [float(t) for t in values["fig4ab_targets"]]
  except ValueError:
    return True  # The list validator reports it.
  if "nce" not in [n.lower() for n in values["bounds"]]:
    return True
  return all(t < math.log(values["batch_size"]) for t in targets)


flags.register_multi_flags_validator(
    ["fig4ab_targets", "bounds", "batch_size"], _targets_reachable,
    message="--fig4ab_targets: I_NCE can never reach a target t >= log K "
    "(K = --batch_size)")


def with_profile_flagfile(argv: Sequence[str]) -> list[str]:
  """Puts the profile's flagfile before the user's flags, so theirs win."""
  profile = _PROFILE.default
  args = list(argv[1:])
  for i, arg in enumerate(args):
    if arg.startswith("--profile="):
      profile = arg.split("=", 1)[1]
    elif arg == "--profile" and i + 1 < len(args):
      profile = args[i + 1]
  if profile not in config.PROFILES:
    return list(argv)  # absl rejects the value with its usage message.
  flagfile = os.path.join(FLAGS_DIR, profile, "profile.flags")
  return [argv[0], f"--flagfile={flagfile}"] + args


def settings() -> config.Settings:
  """The parsed flags as typed settings (call after absl parsed argv)."""
  values = {}
  for name, holder in _SETTING_FLAGS.items():
    value = holder.value
    if name in _ITEM_TYPES:
      value = tuple(_ITEM_TYPES[name](v) for v in value)
    values[name] = value
  values["bounds"] = tuple(estimators.canonical_name(b)
                           for b in values["bounds"])
  return config.Settings(
      data=config.DataConfig(dataset=_DATASET.value, view=_VIEW.value,
                             data_dir=_DATA_DIR.value),
      workdir=_WORKDIR.value, profile=_PROFILE.value, seeds=_SEEDS.value,
      force=_FORCE.value, runner=_RUNNER.value,
      beam_options=_BEAM_OPTIONS.value, **values)


def run_config() -> config.RunConfig:
  return config.RunConfig(settings=settings(), claim=_CLAIM.value,
                          baseline=_BASELINE.value)
