"""Learning-rate schedules and optimizers, as TF-Slim's flags name them.

`learning_rate` is the schedule of --learning_rate_decay_type (with the
warm-up of --warmup_epochs), `optimizer` the tf.train optimizer of
--optimizer with its hyper-parameters, and `learning_rate_for` works out
the schedule's steps from a TrainConfig and the dataset's size.
"""

import math

import tensorflow.compat.v1 as tf

from slimvision.core.errors import UserError
from slimvision.engines.config import DECAY_TYPES, OPTIMIZERS


def learning_rate(global_step, decay_type, base_rate, decay_steps, *,
                  decay_factor=0.94, end_rate=0.0001, warmup_steps=0,
                  total_steps=None):
  """The learning rate at `global_step` as a scalar float32 Tensor.

  Args:
    global_step: int64 Tensor.
    decay_type: 'exponential' (staircase: base * factor^floor(step/decay)),
      'fixed' (base), 'polynomial' (linear, power 1.0, from base to
      end_rate over decay_steps, then end_rate) or 'cosine' (half a cosine
      from base to end_rate over the warm-up's end to total_steps).
    base_rate: the initial rate.
    decay_steps: steps per decay (int > 0).
    decay_factor: multiplier per decay (exponential).
    end_rate: the final rate (polynomial).
    warmup_steps: steps of linear warm-up from 0 to the schedule's value.
    total_steps: the run's last step (cosine).

  Raises:
    UserError: unknown decay_type, or cosine without total_steps.
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
  elif decay_type == 'cosine':
    if not total_steps:
      raise UserError('--learning_rate_decay_type=cosine needs '
                      '--max_number_of_steps (the end of the schedule)')
    span = float(max(1, total_steps - warmup_steps))
    progress = tf.clip_by_value(
        tf.cast(step - warmup_steps, tf.float32) / span, 0.0, 1.0)
    rate = end_rate + (base_rate - end_rate) * 0.5 * (
        1.0 + tf.cos(math.pi * progress))
  else:
    raise UserError('Unknown --learning_rate_decay_type %r; valid: %s' %
                    (decay_type, ', '.join(DECAY_TYPES)))
  rate = tf.cast(rate, tf.float32)
  if warmup_steps > 0:
    fraction = tf.minimum(
        1.0, tf.cast(step, tf.float32) / float(warmup_steps))
    rate = rate * fraction
  return tf.identity(rate, name='learning_rate')


def optimizer(config, rate):
  """The tf.train optimizer `config.optimizer` with TF-Slim's flag semantics.

  Args:
    config: a TrainConfig (its optimizer name and hyper-parameters).
    rate: the learning rate, a float or scalar Tensor.

  Raises:
    UserError: unknown optimizer name.
  """
  name = config.optimizer
  if name == 'adadelta':
    return tf.train.AdadeltaOptimizer(rate, rho=config.adadelta_rho,
                                      epsilon=config.opt_epsilon)
  if name == 'adagrad':
    return tf.train.AdagradOptimizer(
        rate,
        initial_accumulator_value=config.adagrad_initial_accumulator_value)
  if name == 'adam':
    return tf.train.AdamOptimizer(rate, beta1=config.adam_beta1,
                                  beta2=config.adam_beta2,
                                  epsilon=config.opt_epsilon)
  if name == 'ftrl':
    return tf.train.FtrlOptimizer(
        rate, learning_rate_power=config.ftrl_learning_rate_power,
        initial_accumulator_value=config.ftrl_initial_accumulator_value,
        l1_regularization_strength=config.ftrl_l1,
        l2_regularization_strength=config.ftrl_l2)
  if name == 'momentum':
    return tf.train.MomentumOptimizer(rate, momentum=config.momentum,
                                      name='Momentum')
  if name == 'rmsprop':
    return tf.train.RMSPropOptimizer(rate, decay=config.rmsprop_decay,
                                     momentum=config.rmsprop_momentum,
                                     epsilon=config.opt_epsilon)
  if name == 'sgd':
    return tf.train.GradientDescentOptimizer(rate)
  raise UserError('Unknown --optimizer %r; valid: %s' %
                  (name, ', '.join(OPTIMIZERS)))


def learning_rate_for(config, global_step, num_samples):
  """The schedule `config` (a TrainConfig) asks for, its steps worked out
  from `num_samples` examples per epoch: a step takes --batch_size examples,
  times --replicas_to_aggregate under --sync_replicas."""
  examples_per_step = config.batch_size * (
      config.replicas_to_aggregate if config.sync_replicas else 1)
  steps_per_epoch = num_samples / float(examples_per_step)
  return learning_rate(
      global_step, config.learning_rate_decay_type, config.learning_rate,
      decay_steps=max(1, int(steps_per_epoch * config.num_epochs_per_decay)),
      decay_factor=config.learning_rate_decay_factor,
      end_rate=config.end_learning_rate,
      warmup_steps=int(math.ceil(steps_per_epoch * config.warmup_epochs)),
      total_steps=config.max_number_of_steps)
