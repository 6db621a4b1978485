"""Session hooks of the training loop: progress lines and the NaN guard."""

import time

import numpy as np
import tensorflow.compat.v1 as tf

from slimvision.core import log as logging
from slimvision.core.errors import UserError


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
