"""Runs a pipeline's stages in order, skipping those whose record matches.

The local runner is the default. Independent stages (a claim's training runs)
can instead be handed to Apache Beam; see `pipelines/beam_runner.py`.
"""

import time
from typing import Any, Callable, Optional

from absl import logging

from pipelines import components


class LocalRunner:
  """Executes stages one after another in this process."""

  def __init__(self, force: bool = False):
    self.force = force

  def run(self, pipeline: components.Pipeline,
          context: components.Context,
          parallel: Optional[Callable] = None) -> dict[str, Any]:
    """Runs every stage; returns {stage name: result}.

    Args:
      pipeline: the stages, in dependency order.
      context: workdir, results so far, in-process memo.
      parallel: optional hook that runs a list of independent, uncached
        stages (e.g. on Beam) and returns their records; the local runner
        executes them in order itself when it is None.
    """
    tick = time.time()
    stages = list(pipeline.stages)
    i = 0
    while i < len(stages):
      stage = stages[i]
      record = None if self.force else components.is_cached(stage, context)
      if record is not None:
        logging.info("[%s] %s: up to date (%.1f s when it ran)",
                     pipeline.name, stage.name, record["seconds"])
        context.results[stage.name] = record["result"]
        i += 1
        continue
      batch = [stage]
      if parallel is not None and stage.params.get("parallel_group"):
        batch = _independent_batch(stages, i, context, self.force)
      if len(batch) > 1 and parallel is not None:
        records = parallel(batch, context)
      else:
        records = [self._execute(pipeline.name, stage, context)]
      for done, record in zip(batch, records):
        context.results[done.name] = record["result"]
      i += len(batch)
    logging.info("[%s] done in %.1f s", pipeline.name, time.time() - tick)
    return dict(context.results)

  def _execute(self, pipeline_name: str, stage: components.Stage,
               context: components.Context) -> dict[str, Any]:
    logging.info("[%s] %s: running", pipeline_name, stage.name)
    record = components.execute(stage, context, resume=not self.force)
    logging.info("[%s] %s: done in %.1f s", pipeline_name, stage.name,
                 record["seconds"])
    return record


def _independent_batch(stages, start, context, force):
  """Consecutive uncached stages of the same parallel group from `start`."""
  group = stages[start].params["parallel_group"]
  batch = []
  for stage in stages[start:]:
    if stage.params.get("parallel_group") != group:
      break
    if not force and components.is_cached(stage, context) is not None:
      break
    batch.append(stage)
  return batch
