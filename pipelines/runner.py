"""Runs a pipeline's stages in order, skipping those whose record matches.

The local runner is the default. `beam_runner.BeamRunner` runs a claim's
independent training stages as elements of an Apache Beam pipeline instead.
"""

import time
from typing import Any

from absl import logging

from pipelines import components


class LocalRunner:
  """Executes stages one after another in this process."""

  def __init__(self, force: bool = False):
    self.force = force

  def run(self, pipeline: components.Pipeline,
          context: components.Context) -> dict[str, Any]:
    """Runs every stage; returns {stage name: result}."""
    tick = time.time()
    for stage in pipeline.stages:
      record = None if self.force else components.is_cached(stage, context)
      if record is not None:
        logging.info("[%s] %s: up to date (%.1f s when it ran)",
                     pipeline.name, stage.name, record["seconds"])
      else:
        record = self._execute(pipeline.name, stage, context)
      context.results[stage.name] = record["result"]
    logging.info("[%s] done in %.1f s", pipeline.name, time.time() - tick)
    return dict(context.results)

  def _execute(self, pipeline_name: str, stage: components.Stage,
               context: components.Context) -> dict[str, Any]:
    logging.info("[%s] %s: running", pipeline_name, stage.name)
    record = components.execute(stage, context, resume=not self.force)
    logging.info("[%s] %s: done in %.1f s", pipeline_name, stage.name,
                 record["seconds"])
    return record
