"""Finding and restoring checkpoints with clear errors.

A checkpoint that does not fit the model (a wrong --model_name, a different
number of classes, grayscale vs colour input) is reported by variable name
and shape before TensorFlow's restore would fail with a long trace.
"""

import os

import tensorflow.compat.v1 as tf
import tf_slim as slim

from slimvision.core import log
from slimvision.core.errors import UserError
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
  TF-Slim's evaluation did; other variables from their own names.
  """
  if not moving_average_decay:
    return {v.op.name: v for v in slim.get_variables_to_restore()}
  global_step = tf.train.get_or_create_global_step()
  averages = tf.train.ExponentialMovingAverage(moving_average_decay,
                                               global_step)
  names = averages.variables_to_restore(slim.get_model_variables())
  names[global_step.op.name] = global_step
  return names


def is_in_folder(checkpoint_path, folder):
  """Whether the checkpoint prefix lies directly in `folder` (symlinks
  resolved, so a folder reached through a link is the same folder)."""
  return os.path.dirname(os.path.realpath(checkpoint_path)) == (
      os.path.realpath(folder))


def latest_in_dir(folder):
  """The newest checkpoint of `folder` (a train_dir), or None.

  As tf.train.latest_checkpoint, but always a checkpoint in `folder`: Savers
  write absolute paths into the `checkpoint` state file unless told not to,
  so in a train_dir copied or moved elsewhere TensorFlow's answer is the
  original's checkpoint, and a run 'resumed' from another folder.
  """
  latest = tf.train.latest_checkpoint(folder)
  if latest is None or is_in_folder(latest, folder):
    return latest
  local = os.path.join(folder, os.path.basename(latest))
  if tf.train.checkpoint_exists(local):
    return local
  log.warning('the checkpoint file of %s names %s, outside it; ignored',
              folder, latest)
  return None


def variable_shapes(checkpoint_path):
  """{name: shape list} of the variables in a checkpoint.

  Raises:
    UserError: the checkpoint cannot be read (corrupt, truncated).
  """
  try:
    return tf.train.load_checkpoint(checkpoint_path).get_variable_to_shape_map()
  except (tf.errors.OpError, ValueError) as e:
    raise UserError('checkpoint %s cannot be read: %s' %
                    (checkpoint_path, str(e).splitlines()[0]))


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
