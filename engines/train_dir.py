"""One training run per train_dir, and no debris from interrupted saves.

Two runs writing one train_dir interleave their checkpoints and corrupt the
TensorBoard events file they share. `lock()` takes an exclusive lock on
TRAIN_DIR/train_dir.lock before anything is written; a second run refuses
with one line naming the holder. The lock is an fcntl lock, which the
kernel drops when its process ends in any way, kill -9 included, so a
stale lock needs no clean-up; the file keeps the holder's PID, host and
start time for the message. Evaluation reads a train_dir without the lock.

A checkpoint save cut short (a kill) leaves `*.tempstate*` files that
nothing else removes; `remove_partial_saves()` deletes the train_dir's own
at start and after each save.

A train_dir copied or moved elsewhere keeps a `checkpoint` state file that
names the original folder's checkpoints (Savers write absolute paths by
default). Resumed as it is, training would restore the original's newest
checkpoint and, keeping only its last 5, delete the original's older ones.
`repair_checkpoint_state()` makes the state name the folder's own, and
rebuilds a state file that is missing or unreadable.
"""

import datetime
import fcntl
import glob
import json
import os
import socket

import tensorflow.compat.v1 as tf

from slimvision.core import log
from slimvision.core.errors import UserError
from slimvision.engines import checkpoints
from slimvision.engines import config as config_lib

LOCK_FILENAME = 'train_dir.lock'
# The settings of the runs that wrote the train_dir's checkpoints.
CONFIG_FILENAME = 'train_config.json'
# The checkpoints a training run's Saver keeps (max_to_keep).
KEEP_CHECKPOINTS = 5


class Lock(object):
  """An exclusive lock on a train_dir, held until `release()`.

  Used as a context manager, a run that fails takes back what it added:
  the lock file if it created it, and the train_dir if it created that and
  nothing else is in it. A run refused at its checks leaves no trace.
  """

  def __init__(self, train_dir, created=False):
    self.path = os.path.join(train_dir, LOCK_FILENAME)
    self.created = created  # Whether this run created the train_dir.
    self._created_file = False
    self._fd = None

  def acquire(self):
    """Takes the lock; raises UserError naming the holder if it is held."""
    self._created_file = not os.path.exists(self.path)
    fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
      holder = _read_holder(fd)
      os.close(fd)
      raise UserError(
          '--train_dir %s is in use by another training run (%s); wait for '
          'it to end or choose another --train_dir' % (
              os.path.dirname(self.path), holder))
    record = json.dumps({
        'pid': os.getpid(), 'host': socket.gethostname(),
        'started': datetime.datetime.now().isoformat(timespec='seconds')})
    os.ftruncate(fd, 0)
    os.pwrite(fd, record.encode('utf-8') + b'\n', 0)
    self._fd = fd
    return self

  def release(self):
    if self._fd is not None:
      fcntl.flock(self._fd, fcntl.LOCK_UN)
      os.close(self._fd)
      self._fd = None

  def __enter__(self):
    return self if self._fd is not None else self.acquire()

  def __exit__(self, exc_type, *unused_exc):
    if exc_type is None or self._fd is None or not self._created_file:
      self.release()
      return
    os.remove(self.path)  # Still held: no other run can have taken it.
    self.release()
    folder = os.path.dirname(self.path)
    if self.created and not os.listdir(folder):
      os.rmdir(folder)


def _read_holder(fd):
  """'pid N on host H since T' from the lock file, as far as it says."""
  try:
    record = json.loads(os.pread(fd, 4096, 0).decode('utf-8') or '{}')
    return 'pid %s on host %s since %s' % (record['pid'], record['host'],
                                           record['started'])
  except (ValueError, KeyError, OSError):
    return 'its lock file says nothing more'


def lock(train_dir):
  """Creates train_dir if needed and returns its held `Lock`.

  Raises:
    UserError: another run holds the lock, or train_dir is not a folder.
  """
  if os.path.exists(train_dir) and not os.path.isdir(train_dir):
    raise UserError('--train_dir %s is a file, not a folder' % train_dir)
  created = not os.path.isdir(train_dir)
  tf.gfile.MakeDirs(train_dir)
  return Lock(train_dir, created=created).acquire()


def record_settings(train_dir, config, **resolved):
  """Writes the run's settings to TRAIN_DIR/train_config.json, keeping the
  earlier runs' records in its `history` list, oldest first.

  `config` is the TrainConfig as given; `resolved` are values the run
  worked out (image size, class and example counts). The training engine
  calls this when the run saves its first checkpoint: the record is of the
  runs whose checkpoints are there.
  """
  path = os.path.join(train_dir, CONFIG_FILENAME)
  history = []
  try:
    with open(path) as f:
      earlier = json.load(f)
    history = earlier.pop('history', []) + [earlier]
  except FileNotFoundError:
    pass
  except (OSError, ValueError, AttributeError, TypeError) as e:
    log.warning('Warning: %s could not be read (%s); it now records this run '
                'only', path, e)
  config_lib.write_json(config, path, history=history, **resolved)


def remove_partial_saves(train_dir):
  """Deletes the `*.tempstate*` files interrupted saves left in train_dir;
  returns their names."""
  removed = []
  for path in sorted(glob.glob(os.path.join(train_dir, '*.tempstate*'))):
    try:
      os.remove(path)
      removed.append(os.path.basename(path))
    except OSError:
      pass
  if removed:
    log.info('Removed %d file(s) of interrupted checkpoint saves from %s',
             len(removed), train_dir)
  return removed


class PartialSaveCleaner(tf.train.CheckpointSaverListener):
  """Removes leftover `*.tempstate*` files after every checkpoint save."""

  def __init__(self, train_dir):
    self._train_dir = train_dir

  def after_save(self, session, global_step_value):
    remove_partial_saves(self._train_dir)


def recover_saved_checkpoints(saver, train_dir):
  """Tells a new Saver which checkpoints the train_dir's state file names.

  A Saver starts with none: its first save would write a state file naming
  only the new checkpoint, and the older ones would stay on disk, named by
  nothing and never rotated away. Knowing them, it keeps the last
  KEEP_CHECKPOINTS across runs and names each one it keeps.
  """
  state = tf.train.get_checkpoint_state(train_dir)
  if state is not None:
    saver.recover_last_checkpoints(
        [p for p in state.all_model_checkpoint_paths
         if tf.train.checkpoint_exists(p)])


def repair_checkpoint_state(train_dir):
  """Makes the train_dir's checkpoint state file name its own checkpoints,
  so that training resumes from them; returns whether it changed it.

  - A state file naming checkpoints outside the train_dir (a copy): it then
    names the train_dir's own copies of them (relative paths); those it
    lacks are dropped.
  - A state file missing or unreadable where checkpoints are (a crash while
    it was written, a folder copied without it): it then names the newest
    `KEEP_CHECKPOINTS` by the step in their names. Older ones are left alone, never
    deleted: the Saver's rotation only deletes what the state names.
  """
  try:
    state = checkpoints.read_state(train_dir)
  except ValueError as e:
    state, problem = None, 'could not be read (%s)' % e
  else:
    problem = 'was missing'
  if state is None:
    found = [os.path.basename(p) for p in
             checkpoints.checkpoints_by_name(train_dir)[-KEEP_CHECKPOINTS:]]
    if not found:
      return False
    tf.train.update_checkpoint_state(train_dir, found[-1], found)
    log.warning('Warning: the checkpoint state file of %s %s; it now names '
                'the newest checkpoints by their file names (%s)', train_dir,
                problem, ', '.join(found))
    return True
  named = list(state.all_model_checkpoint_paths)
  if state.model_checkpoint_path not in named:
    named.append(state.model_checkpoint_path)
  if all(checkpoints.is_in_folder(p, train_dir) for p in named):
    return False
  own = [os.path.basename(p) for p in named
         if tf.train.checkpoint_exists(os.path.join(train_dir,
                                                    os.path.basename(p)))]
  newest = os.path.basename(state.model_checkpoint_path)
  if newest not in own:
    newest = own[-1] if own else None
  if newest is None:
    # Nothing of its own to name: the state goes, and training starts anew.
    os.remove(os.path.join(train_dir, checkpoints.STATE_FILENAME))
  else:
    tf.train.update_checkpoint_state(train_dir, newest, own)
  log.warning('%s was copied or moved: its checkpoint file named the '
              'checkpoints of %s; it now names its own (%s)', train_dir,
              os.path.dirname(os.path.abspath(named[-1])),
              ', '.join(own) or 'none')
  return True
