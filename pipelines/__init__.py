"""Pipelines: one declaration per claim of the paper, as stages with typed
inputs, outputs and recorded artifacts under `<workdir>/claim<N>/`."""

import dataclasses
import os

from infomax_tf import config as config_lib
from infomax_tf import fileio
from infomax_tf import report
from infomax_tf import workdir_lock


def build(claim: str, settings: config_lib.Settings):
  """The pipeline of one claim ("1" .. "4")."""
  # pylint: disable=g-import-not-at-top
  from pipelines import claim1, claim2, claim3, claim4
  modules = {"1": claim1, "2": claim2, "3": claim3, "4": claim4}
  return modules[claim].build(settings)


def run_claims(claim: str, settings: config_lib.Settings) -> list[dict]:
  """Runs one claim or all of them; returns their verdicts.

  Inputs are checked before anything in the workdir is touched (bad data or
  settings leave earlier artifacts as they were); then the workdir is locked
  against a second process for the whole run. With `claim == "all"` also
  writes `<workdir>/summary.json` and `summary.md`.
  """
  # pylint: disable=g-import-not-at-top
  from pipelines import common
  from pipelines import components
  from pipelines import runner as runner_lib
  fileio.ensure_writable_dir(settings.workdir)
  memo = {}  # Data loaded once, shared by every claim.
  context = components.Context(workdir=settings.workdir, memo=memo)
  common.check_data_fits(settings, common.load_views(
      context, dataclasses.asdict(settings.data)))
  claims = ["1", "2", "3", "4"] if claim == "all" else [claim]
  verdicts = []
  with workdir_lock.hold(settings.workdir):
    for name in claims:
      if settings.runner == "beam":
        from pipelines import beam_runner
        runner = beam_runner.BeamRunner(settings, name)
      else:
        runner = runner_lib.LocalRunner(force=settings.force)
      context = components.Context(
          workdir=os.path.join(settings.workdir, f"claim{name}"), memo=memo)
      results = runner.run(build(name, settings), context)
      verdicts.append(results["report"])
    if claim == "all":
      report.write_summary(verdicts, os.path.join(settings.workdir,
                                                  "summary.json"),
                           os.path.join(settings.workdir, "summary.md"))
  return verdicts
