"""Finding and restoring checkpoints with clear errors.

A checkpoint that does not fit the model (a wrong --model_name, a different
number of classes, grayscale vs colour input) is reported by variable name
and shape before TensorFlow's restore would fail with a long trace.
"""

import os
import re

import tensorflow.compat.v1 as tf
import tf_slim as slim

from slimvision.core import log
from slimvision.core.errors import UserError, first_line
from slimvision.engines import zoo


def resolve(checkpoint_path, flag='--checkpoint_path'):
  """A checkpoint file prefix from a prefix, a folder or `zoo:<model_name>`.

  `zoo:<model_name>` is the published TF-Slim checkpoint of that network,
  downloaded once into a cache (engines/zoo.py). A V1 checkpoint (the
  single `.ckpt` file of the 2016 model-zoo tarballs) is taken as it is.

  Raises:
    UserError: nothing there, a folder with no checkpoint, an unknown zoo
      name or a zoo download that failed.
  """
  if not checkpoint_path:
    raise UserError('%s is required' % flag)
  if zoo.is_zoo(checkpoint_path):
    return zoo.resolve(checkpoint_path, flag=flag)
  if tf.gfile.IsDirectory(checkpoint_path):
    latest = latest_in_dir(checkpoint_path)
    if not latest:
      raise UserError('%s %s: no checkpoint in this folder' %
                      (flag, checkpoint_path))
    return latest
  if not tf.gfile.Exists(checkpoint_path + '.index'):
    if _is_v1_checkpoint_file(checkpoint_path):
      return checkpoint_path
    raise UserError('%s %s: no such checkpoint (expected %s.index)' %
                    (flag, checkpoint_path, checkpoint_path))
  return checkpoint_path


def _is_v1_checkpoint_file(path):
  """Whether `path` is a file that can only be a V1 checkpoint: not one of
  the .index, .meta or .data-* files of a V2 checkpoint."""
  name = path.rsplit('/', 1)[-1]
  return (tf.gfile.Exists(path) and not tf.gfile.IsDirectory(path) and
          not name.endswith(('.index', '.meta')) and '.data-' not in name)


def variables_to_restore(moving_average_decay=None):
  """Checkpoint name -> variable for evaluation and export.

  With `moving_average_decay`, each model variable is restored from its
  ExponentialMovingAverage shadow (`<name>/ExponentialMovingAverage`), as
  TF-Slim's evaluation did; other variables from their own names: the
  global step, and the quantization ranges of a quantization-aware graph
  (engines/quantization.py), which have no shadows.
  """
  if not moving_average_decay:
    return {v.op.name: v for v in slim.get_variables_to_restore()}
  global_step = tf.train.get_or_create_global_step()
  averages = tf.train.ExponentialMovingAverage(moving_average_decay,
                                               global_step)
  names = averages.variables_to_restore(slim.get_model_variables())
  names[global_step.op.name] = global_step
  for variable in tf.get_collection(QUANTIZATION_VARIABLES):
    names[variable.op.name] = variable
  return names


# The collection of the variables that the quantization rewrite adds
# (engines/quantization.py; here so that restoring needs no import of it).
QUANTIZATION_VARIABLES = 'quantization_variables'


def is_in_folder(checkpoint_path, folder):
  """Whether the checkpoint prefix lies directly in `folder` (symlinks
  resolved, so a folder reached through a link is the same folder)."""
  return os.path.dirname(os.path.realpath(checkpoint_path)) == (
      os.path.realpath(folder))


STATE_FILENAME = 'checkpoint'


def read_state(folder):
  """The folder's checkpoint state (a CheckpointState proto: the newest
  checkpoint and those kept), or None when there is no state file.

  Raises:
    ValueError: the state file is there but cannot be read or names no
      checkpoint (a crash while it was written, a hand edit); the message
      says why.
  """
  if not tf.gfile.Exists(os.path.join(folder, STATE_FILENAME)):
    return None
  # TensorFlow logs a parse error as a warning and returns None (an empty
  # file raises instead); one clear reason is better.
  verbosity = tf.logging.get_verbosity()
  tf.logging.set_verbosity(tf.logging.ERROR)
  try:
    state = tf.train.get_checkpoint_state(folder)
  except (ValueError, tf.errors.OpError, UnicodeDecodeError) as e:
    raise ValueError(first_line(e))
  finally:
    tf.logging.set_verbosity(verbosity)
  if state is None or not state.model_checkpoint_path:
    raise ValueError('it is not a checkpoint state file, or names no '
                     'checkpoint')
  return state


def checkpoints_by_name(folder):
  """The checkpoint prefixes in `folder` found by their file names
  (`<prefix>-<step>.index`), lowest step first."""
  found = []
  for name in tf.gfile.ListDirectory(folder):
    match = re.match(r'^(.+-(\d+))\.index$', name)
    if match:
      found.append((int(match.group(2)), os.path.join(folder,
                                                      match.group(1))))
  return [path for _, path in sorted(found)]


def step_of(checkpoint_path):
  """The global step in a checkpoint prefix's name (`model.ckpt-42`: 42),
  or None for a name without one."""
  match = re.match(r'^.+-(\d+)$', checkpoint_path)
  return int(match.group(1)) if match else None


def latest_in_dir(folder):
  """The newest checkpoint of `folder` (a train_dir), or None.

  As tf.train.latest_checkpoint, but always a checkpoint in `folder`: Savers
  write absolute paths into the `checkpoint` state file unless told not to,
  so in a train_dir copied or moved elsewhere TensorFlow's answer is the
  original's checkpoint, and a run 'resumed' from another folder. Where the
  state file is missing or unreadable but checkpoints are there, the newest
  by step in its file name (with a warning): TensorFlow would start afresh.
  """
  try:
    state = read_state(folder)
  except ValueError as e:
    state, problem = None, 'cannot be read (%s)' % e
  else:
    problem = 'is missing'
  if state is None:
    found = checkpoints_by_name(folder) if tf.gfile.IsDirectory(folder) else []
    if found:
      log.warning('Warning: the checkpoint state file of %s %s; taking %s, '
                  'the newest checkpoint by its file name', folder, problem,
                  os.path.basename(found[-1]))
      return found[-1]
    return None
  latest = tf.train.latest_checkpoint(folder)
  if latest is None or is_in_folder(latest, folder):
    return latest
  local = os.path.join(folder, os.path.basename(latest))
  if tf.train.checkpoint_exists(local):
    return local
  log.warning('the checkpoint file of %s names %s, outside it; ignored',
              folder, latest)
  return None


class UnreadableCheckpoint(UserError):
  """A checkpoint whose files are truncated, corrupt or missing."""


# What TensorFlow's checkpoint reader raises for bad files: OpErrors, and
# pybind's translations of them (a short read comes as IndexError).
_READ_ERRORS = (tf.errors.OpError, IndexError, ValueError, RuntimeError,
                OSError)


def variable_shapes(checkpoint_path):
  """{name: shape list} of the variables in a checkpoint (read from its
  index only).

  Raises:
    UnreadableCheckpoint: the index cannot be read (corrupt, truncated).
  """
  try:
    return tf.train.load_checkpoint(checkpoint_path).get_variable_to_shape_map()
  except _READ_ERRORS as e:
    raise UnreadableCheckpoint('checkpoint %s cannot be read: %s' %
                               (checkpoint_path, first_line(e)))


def check_readable(checkpoint_path, names=None):
  """Reads each tensor of `names` (default: every one) from the checkpoint,
  so that a truncated or corrupted data file (each tensor has a checksum)
  shows here, naming the tensor, rather than as a restore traceback. Reads
  the tensors one at a time: memory holds one tensor at most.

  Raises:
    UnreadableCheckpoint: a tensor (or the index) cannot be read.
  """
  try:
    reader = tf.train.load_checkpoint(checkpoint_path)
    if names is None:
      names = reader.get_variable_to_shape_map()
  except _READ_ERRORS as e:
    raise UnreadableCheckpoint('checkpoint %s cannot be read: %s' %
                               (checkpoint_path, first_line(e)))
  for name in sorted(names):
    try:
      reader.get_tensor(name)
    except _READ_ERRORS as e:
      raise UnreadableCheckpoint(
          'checkpoint %s cannot be read (a truncated or corrupt file?): '
          'tensor %s: %s' % (checkpoint_path, name, first_line(e)))


def latest_readable_in_dir(folder):
  """The newest checkpoint of `folder` (a train_dir) whose tensors all read,
  or None when it has none.

  An older checkpoint stands in for a newer one that cannot be read (a
  disk that filled, a file cut by a crash), with a warning naming both.

  Raises:
    UnreadableCheckpoint: the folder has checkpoints, but none reads.
  """
  latest = latest_in_dir(folder)
  if latest is None:
    return None
  try:
    state = read_state(folder)
  except ValueError:
    state = None
  older = [os.path.join(folder, os.path.basename(path))
           for path in (state.all_model_checkpoint_paths if state else
                        checkpoints_by_name(folder))]
  candidates = [latest] + [path for path in reversed(older)
                           if path != latest and
                           tf.train.checkpoint_exists(path)]
  failures = []
  for path in candidates:
    try:
      check_readable(path)
    except UnreadableCheckpoint as e:
      failures.append(str(e))
      continue
    if failures:
      log.warning('Warning: %s; resuming from the older %s instead',
                  '; '.join(failures), path)
    return path
  raise UnreadableCheckpoint(
      '--train_dir %s: none of its checkpoints can be read (%s); move them '
      'aside to train from scratch, or use a new --train_dir' %
      (folder, '; '.join(failures)))


def restorer(checkpoint_path, var_map):
  """A tf.train.Saver for `var_map` after checking it fits the checkpoint.

  Args:
    checkpoint_path: a checkpoint file prefix.
    var_map: checkpoint name -> variable.

  Raises:
    UserError: names missing from the checkpoint or shapes that differ.
  """
  check_fits(checkpoint_path, var_map)
  return tf.train.Saver(var_map)


def check_fits(checkpoint_path, var_map, resuming_in=None):
  """Checks that every variable of `var_map` (checkpoint name -> variable)
  is in the checkpoint with its shape.

  Args:
    resuming_in: the train_dir, when the checkpoint is the one a training
      run resumes from there (the error then says so).

  Raises:
    UserError: names missing from the checkpoint or shapes that differ.
    UnreadableCheckpoint: a tensor of `var_map` cannot be read.
  """
  shapes = variable_shapes(checkpoint_path)
  missing = sorted(n for n in var_map if n not in shapes)
  resume_hint = (
      ' (the run that wrote it in --train_dir %s had another model, '
      'optimizer, --moving_average_decay or class count: see its '
      'train_config.json; resume with the same flags, or train in a new '
      '--train_dir)' % resuming_in if resuming_in else None)
  if missing:
    hint = resume_hint or (
        ' (was it trained with --moving_average_decay?)'
        if any(n.endswith('/ExponentialMovingAverage') for n in missing)
        else ' (was it trained with --quantize_delay? --quantize needs the '
        'quantization ranges of such a checkpoint)'
        if any(re.search(r'/(weights|act)_quant/', n) for n in missing)
        else ' (a different --model_name?)')
    raise UserError('checkpoint %s lacks %d of the model\'s %d variables, '
                    'e.g. %s%s' % (checkpoint_path, len(missing),
                                   len(var_map), ', '.join(missing[:3]), hint))
  for name, var in sorted(var_map.items()):
    if list(shapes[name]) != var.shape.as_list():
      raise UserError(
          'checkpoint %s does not fit the model: %s has shape %s there but '
          '%s in the model%s' % (
              checkpoint_path, name, list(shapes[name]), var.shape.as_list(),
              resume_hint or ' (a different number of classes, '
              '--use_grayscale, or an image size that changes a fully '
              'connected layer?)'))
  check_readable(checkpoint_path, var_map)
