"""Fine-tuning: which variables are restored, which are trained, and which
batch-norm updates run.

As TF-Slim's train_image_classifier.py: --checkpoint_path with
--checkpoint_exclude_scopes and --ignore_missing_vars choose what is
restored (`fine_tune_init_fn`), --trainable_scopes what is trained
(`variables_to_train`); --freeze_batch_norm_statistics, ours, keeps the
frozen layers' moving statistics (`update_ops_in_scopes`).
"""

import tensorflow.compat.v1 as tf
import tf_slim as slim

from slimvision.core import log
from slimvision.core.errors import UserError
from slimvision.engines import checkpoints

# The ops that hold a variable: resource handles and TF1 reference variables.
_VARIABLE_OPS = ('VarHandleOp', 'VariableV2', 'Variable')


def _scopes(comma_separated):
  return [s.strip() for s in (comma_separated or '').split(',') if s.strip()]


def variables_to_train(trainable_scopes):
  """Trainable variables under the comma-separated scopes (all if empty).

  A scope that matches no trainable variable is logged as a warning and
  skipped, as TF-Slim does: classic transfer-learning commands name scopes
  without variables (`MobilenetV1/Predictions`).

  Raises:
    UserError: the scopes together match no trainable variable.
  """
  scopes = _scopes(trainable_scopes)
  if not scopes:
    return tf.trainable_variables()
  selected = []
  for scope in scopes:
    variables = tf.get_collection(tf.GraphKeys.TRAINABLE_VARIABLES, scope)
    if not variables:
      log.warning('Warning: --trainable_scopes: %r matches no trainable '
                  'variable; ignoring it', scope)
    selected.extend(variables)
  if not selected:
    raise UserError('--trainable_scopes %s matches no trainable variable: '
                    'nothing to train' % trainable_scopes)
  return selected


def update_ops_in_scopes(update_ops, trainable_scopes, clone_scope=''):
  """The update ops (batch-norm statistics) of the trained scopes only.

  For --freeze_batch_norm_statistics: by default (TF-Slim) every update op
  runs, so layers outside --trainable_scopes keep their weights but their
  moving statistics follow the new data.
  """
  scopes = _scopes(trainable_scopes)
  if not scopes:
    return list(update_ops)
  prefix = clone_scope.rstrip('/') + '/' if clone_scope else ''

  def written_name(update):
    # Judged by the variable the update writes: op names can carry a name
    # scope the variables lack (MobilenetV1/MobilenetV1/Conv2d_0/...).
    # Updates are ops, tensors or (resource variables) assigned variables.
    op = getattr(update, 'op', update)
    if op.inputs and op.inputs[0].op.type in _VARIABLE_OPS:
      return op.inputs[0].op.name
    return op.name[len(prefix):] if op.name.startswith(prefix) else op.name

  return [op for op in update_ops
          if any(written_name(op).startswith(s.rstrip('/') + '/')
                 for s in scopes)]


def fine_tune_init_fn(checkpoint_path, exclude_scopes='', *,
                      ignore_missing_vars=False):
  """Returns init_fn(scaffold, session) restoring model variables, or None.

  Restores every model variable not under `exclude_scopes` (comma separated)
  from `checkpoint_path` (a file prefix or a folder with a checkpoint). As
  in TF-Slim, an exclude scope that matches no model variable is a warning,
  and with `ignore_missing_vars` a checkpoint that shares no variable with
  the model is a warning too: the run trains from scratch (returns None).

  Raises:
    UserError: no checkpoint there; a variable missing from the checkpoint
      (unless ignore_missing_vars); a variable whose shape differs (naming
      both shapes and suggesting --checkpoint_exclude_scopes); a tensor to
      restore that cannot be read.
  """
  if not checkpoint_path:
    return None
  checkpoint_path = checkpoints.resolve(checkpoint_path)
  model_variables = slim.get_model_variables()
  to_restore, missing = restorable_variables(
      checkpoint_path, model_variables, exclude_scopes)
  if missing and not ignore_missing_vars:
    raise UserError(
        '%d model variable(s) are not in checkpoint %s, e.g. %s; pass '
        '--ignore_missing_vars to train them from scratch, or '
        '--checkpoint_exclude_scopes' % (len(missing), checkpoint_path,
                                         ', '.join(missing[:3])))
  if not to_restore:
    log.warning('Warning: checkpoint %s holds none of the model\'s %d '
                'variables (after --checkpoint_exclude_scopes); training '
                'from scratch', checkpoint_path, len(model_variables))
    return None
  checkpoints.check_readable(checkpoint_path, [v.op.name for v in to_restore])
  for name in missing:
    log.info('Not in the checkpoint, left initialised: %s', name)
  log.info('Fine-tuning from %s: restoring %d variables, %d excluded or '
           'missing', checkpoint_path, len(to_restore),
           len(model_variables) - len(to_restore))
  saver = tf.train.Saver(to_restore)

  def init_fn(unused_scaffold, session):
    saver.restore(session, checkpoint_path)

  return init_fn


def restorable_variables(checkpoint_path, model_variables, exclude_scopes):
  """(the variables to restore, the names of those the checkpoint lacks):
  `model_variables` not under the comma-separated `exclude_scopes`.

  Raises:
    UserError: a variable whose shape differs from the checkpoint's.
  """
  shapes = checkpoints.variable_shapes(checkpoint_path)
  exclusions = _scopes(exclude_scopes)
  for exclusion in exclusions:
    if not any(v.op.name.startswith(exclusion) for v in model_variables):
      log.warning('Warning: --checkpoint_exclude_scopes: %r matches no model '
                  'variable; ignoring it', exclusion)
  to_restore, missing = [], []
  for var in model_variables:
    name = var.op.name
    if any(name.startswith(e) for e in exclusions):
      continue
    if name not in shapes:
      missing.append(name)
      continue
    if list(shapes[name]) != var.shape.as_list():
      raise UserError(
          'Variable %s has shape %s in the model but %s in checkpoint %s; '
          'exclude it with --checkpoint_exclude_scopes (e.g. the logits '
          'scope) to train it from scratch' %
          (name, var.shape.as_list(), list(shapes[name]), checkpoint_path))
    to_restore.append(var)
  # The ranges of a quantization-aware graph, where the checkpoint has
  # them (a research/slim `_quant` checkpoint); a float one has none.
  to_restore += [v for v in tf.get_collection(
      checkpoints.QUANTIZATION_VARIABLES) if v.op.name in shapes and
                 not any(v.op.name.startswith(e) for e in exclusions)]
  return to_restore, missing


def restore_init_fn(config, latest, is_chief):
  """What the session starts from, logged: the train_dir's checkpoint
  `latest` (restored by the session itself; returns None), else the
  --checkpoint_path to fine-tune from (returns its init_fn), else nothing.
  """
  if config.checkpoint_path and latest:
    log.info('Ignoring --checkpoint_path because a checkpoint already '
             'exists in %s: resuming from %s', config.train_dir, latest)
  elif latest and config.num_ps_tasks and is_chief:
    log.info('Latest checkpoint %s: restored unless the parameter servers '
             'still hold the model', latest)
  elif latest:
    log.info('Resuming from %s', latest)
  elif config.checkpoint_path:
    return fine_tune_init_fn(config.checkpoint_path,
                             config.checkpoint_exclude_scopes,
                             ignore_missing_vars=config.ignore_missing_vars)
  return None
