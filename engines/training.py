"""Training pieces behind train_image_classifier.py: learning-rate schedules,
optimizers, fine-tuning restore, trainable-variable selection, progress log.

Each takes plain arguments (not flags) so it can be tested on its own.
"""

import time

import numpy as np
import tensorflow.compat.v1 as tf
import tf_slim as slim

from slimvision.core import checkpoints
from slimvision.core import log as logging
from slimvision.core.errors import UserError

OPTIMIZERS = ('adadelta', 'adagrad', 'adam', 'ftrl', 'momentum', 'rmsprop',
              'sgd')
DECAY_TYPES = ('exponential', 'fixed', 'polynomial')


def learning_rate(global_step, decay_type, base_rate, decay_steps,
                  decay_factor=0.94, end_rate=0.0001, warmup_steps=0):
  """The learning rate at `global_step` as a scalar float32 Tensor.

  Args:
    global_step: int64 Tensor.
    decay_type: 'exponential' (staircase: base * factor^floor(step/decay)),
      'fixed' (base), or 'polynomial' (linear, power 1.0, from base to
      end_rate over decay_steps, then end_rate).
    base_rate: the initial rate.
    decay_steps: steps per decay (int > 0).
    decay_factor: multiplier per decay (exponential).
    end_rate: the final rate (polynomial).
    warmup_steps: steps of linear warm-up from 0 to the schedule's value.

  Raises:
    UserError: unknown decay_type.
  """
  step = tf.cast(global_step, tf.int64)
  if decay_type == 'exponential':
    rate = tf.train.exponential_decay(base_rate, step, decay_steps,
                                      decay_factor, staircase=True)
  elif decay_type == 'fixed':
    rate = tf.constant(base_rate, tf.float32)
  elif decay_type == 'polynomial':
    rate = tf.train.polynomial_decay(base_rate, step, decay_steps, end_rate,
                                     power=1.0, cycle=False)
  else:
    raise UserError('Unknown --learning_rate_decay_type %r; valid: %s' %
                    (decay_type, ', '.join(DECAY_TYPES)))
  rate = tf.cast(rate, tf.float32)
  if warmup_steps > 0:
    fraction = tf.minimum(
        1.0, tf.cast(step, tf.float32) / float(warmup_steps))
    rate = rate * fraction
  return tf.identity(rate, name='learning_rate')


def optimizer(name, rate, adadelta_rho=0.95,
              adagrad_initial_accumulator_value=0.1, adam_beta1=0.9,
              adam_beta2=0.999, opt_epsilon=1.0, ftrl_learning_rate_power=-0.5,
              ftrl_initial_accumulator_value=0.1, ftrl_l1=0.0, ftrl_l2=0.0,
              momentum=0.9, rmsprop_momentum=0.9, rmsprop_decay=0.9):
  """The tf.train optimizer `name` with TF-Slim's flag semantics.

  Raises:
    UserError: unknown name.
  """
  if name == 'adadelta':
    return tf.train.AdadeltaOptimizer(rate, rho=adadelta_rho,
                                      epsilon=opt_epsilon)
  if name == 'adagrad':
    return tf.train.AdagradOptimizer(
        rate, initial_accumulator_value=adagrad_initial_accumulator_value)
  if name == 'adam':
    return tf.train.AdamOptimizer(rate, beta1=adam_beta1, beta2=adam_beta2,
                                  epsilon=opt_epsilon)
  if name == 'ftrl':
    return tf.train.FtrlOptimizer(
        rate, learning_rate_power=ftrl_learning_rate_power,
        initial_accumulator_value=ftrl_initial_accumulator_value,
        l1_regularization_strength=ftrl_l1, l2_regularization_strength=ftrl_l2)
  if name == 'momentum':
    return tf.train.MomentumOptimizer(rate, momentum=momentum,
                                      name='Momentum')
  if name == 'rmsprop':
    return tf.train.RMSPropOptimizer(rate, decay=rmsprop_decay,
                                     momentum=rmsprop_momentum,
                                     epsilon=opt_epsilon)
  if name == 'sgd':
    return tf.train.GradientDescentOptimizer(rate)
  raise UserError('Unknown --optimizer %r; valid: %s' %
                  (name, ', '.join(OPTIMIZERS)))


def _scopes(comma_separated):
  return [s.strip() for s in (comma_separated or '').split(',') if s.strip()]


def variables_to_train(trainable_scopes):
  """Trainable variables under the comma-separated scopes (all if empty).

  Raises:
    UserError: a scope that matches no trainable variable.
  """
  scopes = _scopes(trainable_scopes)
  if not scopes:
    return tf.trainable_variables()
  selected = []
  for scope in scopes:
    variables = tf.get_collection(tf.GraphKeys.TRAINABLE_VARIABLES, scope)
    if not variables:
      raise UserError('--trainable_scopes: %r matches no trainable variable'
                      % scope)
    selected.extend(variables)
  return selected


def update_ops_in_scopes(update_ops, trainable_scopes, clone_scope=''):
  """The update ops (batch-norm statistics) of the trained scopes only.

  With --trainable_scopes, a fine-tuning run must leave everything outside
  those scopes as restored, batch-norm moving averages included.
  """
  scopes = _scopes(trainable_scopes)
  if not scopes:
    return list(update_ops)
  prefix = clone_scope.rstrip('/') + '/' if clone_scope else ''
  return [op for op in update_ops
          if any(op.name[len(prefix):].startswith(s.rstrip('/') + '/')
                 for s in scopes)]


def fine_tune_init_fn(checkpoint_path, exclude_scopes='',
                      ignore_missing_vars=False, log=None):
  """Returns init_fn(scaffold, session) restoring model variables, or None.

  Restores every model variable not under `exclude_scopes` (comma separated)
  from `checkpoint_path` (a file prefix or a folder with a checkpoint).

  Raises:
    UserError: no checkpoint there; a variable missing from the checkpoint
      (unless ignore_missing_vars); a variable whose shape differs (naming
      both shapes and suggesting --checkpoint_exclude_scopes).
  """
  if not checkpoint_path:
    return None
  log = log or logging.info
  checkpoint_path = checkpoints.resolve(checkpoint_path)
  shapes = checkpoints.variable_shapes(checkpoint_path)
  exclusions = _scopes(exclude_scopes)
  to_restore, missing = [], []
  for var in slim.get_model_variables():
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
  if missing and not ignore_missing_vars:
    raise UserError(
        '%d model variable(s) are not in checkpoint %s, e.g. %s; pass '
        '--ignore_missing_vars to train them from scratch, or '
        '--checkpoint_exclude_scopes' % (len(missing), checkpoint_path,
                                         ', '.join(missing[:3])))
  for name in missing:
    log('Not in the checkpoint, left initialised: %s' % name)
  log('Fine-tuning from %s: restoring %d variables, %d excluded or missing' %
      (checkpoint_path, len(to_restore),
       len(slim.get_model_variables()) - len(to_restore)))
  saver = tf.train.Saver(to_restore)

  def init_fn(unused_scaffold, session):
    saver.restore(session, checkpoint_path)

  return init_fn


class ProgressHook(tf.train.SessionRunHook):
  """Every n steps logs step, loss, images/sec, sec/step and ETA."""

  def __init__(self, loss, every_n_steps, images_per_step, max_steps=None,
               log=None):
    self._loss = loss
    self._every = max(1, every_n_steps)
    self._images_per_step = images_per_step
    self._max_steps = max_steps
    self._log = log or logging.info

  def begin(self):
    self._global_step = tf.train.get_global_step()

  def after_create_session(self, session, coord):
    self._last_step = session.run(self._global_step)
    self._last_time = time.time()

  def before_run(self, run_context):
    return tf.train.SessionRunArgs([self._global_step, self._loss])

  def after_run(self, run_context, run_values):
    step, loss = run_values.results
    step += 1  # The step just taken.
    if step - self._last_step < self._every and step != self._max_steps:
      return
    now = time.time()
    steps = step - self._last_step
    sec_per_step = (now - self._last_time) / max(1, steps)
    message = 'step %d: loss = %.4f (%.1f images/sec; %.3f sec/step' % (
        step, loss, self._images_per_step / max(sec_per_step, 1e-9),
        sec_per_step)
    if self._max_steps:
      remaining = max(0, self._max_steps - step) * sec_per_step
      message += '; ETA %s' % time.strftime('%H:%M:%S',
                                            time.gmtime(remaining))
    self._log(message + ')')
    self._last_step, self._last_time = step, now


class FiniteLossHook(tf.train.SessionRunHook):
  """Stops training with a UserError when the loss is NaN or infinite.

  It must run before the checkpoint saver's hook, so the step that produced
  the bad loss (and updated the weights with it) is never saved.
  """

  def __init__(self, loss, train_dir=None):
    self._loss = loss
    self._train_dir = train_dir

  def begin(self):
    self._global_step = tf.train.get_global_step()

  def before_run(self, run_context):
    return tf.train.SessionRunArgs([self._global_step, self._loss])

  def after_run(self, run_context, run_values):
    step, loss = run_values.results
    if np.isfinite(loss):
      return
    last = self._train_dir and tf.train.latest_checkpoint(self._train_dir)
    raise UserError(
        'loss is %s at step %d: training stopped. The last good checkpoint '
        'is %s. Try a lower --learning_rate or check the input data.' %
        (loss, step + 1, last or '(none written yet)'))
