"""Stages shared by the claims' pipelines, and the report stage.

Artifacts of claim N live under `<workdir>/claimN/`:

  baseline.json                      pixel baseline of the claim's data
  <experiment>/<config>/seed_<s>/    one run: config, metrics, TensorBoard,
                                     export/g1 and export/g2 (SavedModels)
  <experiment>/<config>/checkpoints_<seeds>/   a seed group's checkpoints
  figures/<experiment>.png, verdict.json, report.md
  .stages/                           one record per stage execution
"""

import dataclasses
import os
from typing import Any, Callable, Sequence

from infomax_tf import config as config_lib
from infomax_tf import data as data_lib
from infomax_tf import errors
from infomax_tf import export as export_lib
from infomax_tf import fileio
from infomax_tf import report
from infomax_tf import train
from pipelines import baseline as baseline_lib
from pipelines import components

DATA_STAGE = "data"
BASELINE_STAGE = "baseline"
REPORT_STAGE = "report"


def _data_params(settings: config_lib.Settings) -> dict[str, Any]:
  return dataclasses.asdict(settings.data)


def load_views(context: components.Context,
               data_params: dict[str, Any]) -> data_lib.Views:
  """The claim's (clean) views, loaded once per process."""
  key = ("views", components.fingerprint(data_params))
  if key not in context.memo:
    context.memo[key] = data_lib.load_views(
        data_params["dataset"], data_params["view"],
        data_dir=data_params["data_dir"])
  return context.memo[key]


def check_data_fits(settings: config_lib.Settings,
                    views: data_lib.Views) -> None:
  """Data, or settings the data cannot satisfy, fail before any work."""
  data_lib.check_finite(views)
  if settings.batch_size > views.n_train:
    raise errors.ConfigError(
        f"--batch_size={settings.batch_size} exceeds the {views.n_train} "
        f"training images of {views.dataset}")
  if settings.eval_batch_size > views.n_test:
    raise errors.ConfigError(
        f"--eval_batch_size={settings.eval_batch_size} exceeds the "
        f"{views.n_test} test images of {views.dataset}")


def data_stage(settings: config_lib.Settings) -> components.Stage:
  """Loads the data; always runs, so that changed data (e.g. full MNIST
  becoming available offline) reruns everything downstream."""

  def run(context, params):
    views = load_views(context, params)
    return {"dataset": views.dataset, "source": views.source,
            "view": views.view, "n_train": views.n_train,
            "n_test": views.n_test, "view_dim": views.view_dim,
            "fingerprint": components.fingerprint(
                [views.x1_train[::97].round(4).tolist(),
                 views.y_train.tolist(), views.y_test.tolist()])}

  return components.Stage(DATA_STAGE, run, _data_params(settings),
                          cache=False)


def baseline_stage(settings: config_lib.Settings) -> components.Stage:
  """The pixel baseline: the probe on the noisy first view."""

  def run(context, params):
    record = baseline_lib.pixel_baseline(load_views(context, params))
    baseline_lib.write(record, context.workdir)
    return {"accuracy": record["accuracy"]}

  return components.Stage(BASELINE_STAGE, run, _data_params(settings),
                          inputs=(DATA_STAGE,),
                          outputs=(baseline_lib.BASELINE_FILE,))


def run_dir(experiment: str, config_name: str, seed: int) -> str:
  return os.path.join(experiment, config_name, f"seed_{seed}")


def group_dir(experiment: str, config_name: str, seeds: Sequence[int]) -> str:
  return os.path.join(experiment, config_name,
                      f"checkpoints_{seeds[0]}-{seeds[-1]}")


def train_stage_name(experiment: str, config_name: str,
                     seeds: Sequence[int]) -> str:
  return f"{experiment}/train/{config_name}/seeds_{seeds[0]}-{seeds[-1]}"


def train_stages(settings: config_lib.Settings, experiment: str,
                 config_name: str, train_config: train.TrainConfig,
                 tags: dict[str, Any]) -> list[components.Stage]:
  """Training (then export) of one configuration, one stage per seed group."""
  stages = []
  for seeds in settings.seed_groups():
    name = train_stage_name(experiment, config_name, seeds)
    checkpoint_dir = group_dir(experiment, config_name, seeds)
    run_dirs = [run_dir(experiment, config_name, s) for s in seeds]
    params = {"train": train_config.to_dict(), "seeds": seeds,
              "data": _data_params(settings), "tags": tags,
              "parallel": True}

    def run(context, params, run_dirs=run_dirs, checkpoint_dir=checkpoint_dir,
            seeds=seeds, name=name):
      views = load_views(context, params["data"])
      records = train.train_and_evaluate(
          train_config, views, seeds,
          [context.path(d) for d in run_dirs], context.path(checkpoint_dir),
          tags=params["tags"], name=name)
      return {"records": {str(s): r for s, r in zip(seeds, records)}}

    stages.append(components.Stage(
        name, run, params, inputs=(DATA_STAGE,),
        outputs=tuple(run_dirs) + (checkpoint_dir,)))
    if settings.export:
      stages.append(export_stage(experiment, config_name, train_config, seeds,
                                 name, params))
  return stages


def export_stage(experiment, config_name, train_config, seeds, train_name,
                 train_params) -> components.Stage:
  """SavedModels of g1 and g2 of every run of a seed group."""
  exports = [os.path.join(run_dir(experiment, config_name, s), "export")
             for s in seeds]

  def run(context, params):
    views = load_views(context, train_params["data"])
    trainees = train.restore_trainees(
        train_config, views, seeds,
        context.path(group_dir(experiment, config_name, seeds)))
    paths = {}
    for trainee, export_dir in zip(trainees, exports):
      for name, encoder in (("g1", trainee.g1), ("g2", trainee.g2)):
        target = context.path(export_dir, name)
        export_lib.export_encoder(encoder, target, input_dim=views.view_dim)
        paths[f"seed_{trainee.seed}/{name}"] = os.path.relpath(
            target, context.workdir)
    return {"exports": paths}

  return components.Stage(
      f"{experiment}/export/{config_name}/seeds_{seeds[0]}-{seeds[-1]}", run,
      {"seeds": list(seeds)}, inputs=(train_name,), outputs=tuple(exports))


def records_by_config(context: components.Context, experiment: str,
                      config_names: Sequence[str],
                      settings: config_lib.Settings) -> dict[str, list]:
  """{config: [records of seed 0, 1, ...]} from the training stages."""
  runs = {}
  for config_name in config_names:
    per_seed = []
    for seeds in settings.seed_groups():
      result = context.results[train_stage_name(experiment, config_name,
                                                 seeds)]
      per_seed += [result["records"][str(s)] for s in seeds]
    runs[config_name] = per_seed
  return runs


def experiment_results(context: components.Context, experiment: str,
                       config_names: Sequence[str],
                       settings: config_lib.Settings) -> dict[str, Any]:
  """The report's input for an experiment made of training runs."""
  return {"id": experiment, "baseline": baseline_accuracy(context),
          "scalars": {}, "true_mi": None,
          "runs": records_by_config(context, experiment, config_names,
                                    settings)}


def training_claim(claim: str, settings: config_lib.Settings, experiment: str,
                   configs: dict[str, train.TrainConfig]
                   ) -> components.Pipeline:
  """A claim made of one experiment's training runs: data, pixel baseline,
  training (and export) per configuration, report."""
  stages = [data_stage(settings), baseline_stage(settings)]
  for name, train_config in configs.items():
    stages += train_stages(settings, experiment, name, train_config,
                           {"experiment": experiment,
                            "profile": settings.profile})
  training = [s.name for s in stages if "/train/" in s.name]
  stages.append(report_stage(
      claim, settings, (DATA_STAGE, BASELINE_STAGE) + tuple(training),
      lambda context: [experiment_results(context, experiment, list(configs),
                                          settings)]))
  return components.Pipeline(f"claim{claim}", tuple(stages))


def report_stage(claim: str, settings: config_lib.Settings,
                 inputs: Sequence[str],
                 gather: Callable[[components.Context], list[dict[str, Any]]]
                 ) -> components.Stage:
  """Verdict, figures and report of a claim from its experiments' results."""

  def run(context, params):
    results = gather(context)
    figures = {r["id"]: [os.path.join("figures", f) for f in
                         report.plot_experiment(r, context.path("figures"))]
               for r in results}
    verdict = report.claim_verdict(
        claim, results, profile=settings.profile,
        dataset=context.results[DATA_STAGE]["dataset"], seeds=settings.seeds,
        figures=figures)
    fileio.write_json(context.path("verdict.json"), verdict)
    report.write_report(verdict, results, context.path("report.md"))
    return verdict

  return components.Stage(REPORT_STAGE, run, {"claim": claim},
                          inputs=tuple(inputs),
                          outputs=("verdict.json", "report.md", "figures"))


def baseline_accuracy(context: components.Context) -> float:
  return context.results[BASELINE_STAGE]["accuracy"]
