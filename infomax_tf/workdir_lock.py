"""One writer per workdir: an exclusive lock that names its holder.

Two processes running claims in the same workdir would race on stage records,
checkpoints and reports. The command line holds an exclusive `flock` on
`<workdir>/.lock` for as long as it runs; a second process fails at once with
a message naming the holder. The kernel releases the lock when its process
dies, even by SIGKILL, so a crash never leaves a stale lock behind. Remote
workdirs (gs://...) cannot be locked this way; they are not locked, and the
README says so.
"""

import contextlib
import fcntl
import json
import os
import socket
import time

from absl import logging

from infomax_tf import errors

LOCK_FILE = ".lock"


@contextlib.contextmanager
def hold(workdir: str):
  """Holds the workdir's lock for the duration of the block.

  Raises:
    WorkdirError: another process holds it.
  """
  if "://" in workdir:
    logging.warning("workdir %s is not on a local disk: not locked; run one "
                    "process per workdir", workdir)
    yield
    return
  path = os.path.join(workdir, LOCK_FILE)
  with open(path, "a+") as f:
    try:
      fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      f.seek(0)
      try:
        holder = json.loads(f.read())
        holder = (f"process {holder['pid']} on {holder['host']} (since "
                  f"{holder['started']})")
      except (ValueError, KeyError):
        holder = "another process"
      raise errors.WorkdirError(
          f"workdir {workdir} is in use by {holder}; wait for it to finish, "
          "or pass another --workdir") from None
    f.seek(0)
    f.truncate()
    f.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                        "started": time.strftime("%Y-%m-%d %H:%M:%S")}))
    f.flush()
    try:
      yield
    finally:
      fcntl.flock(f, fcntl.LOCK_UN)
