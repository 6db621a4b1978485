"""Deploys a model over several clones (GPUs or CPUs) and replicas.

A *clone* is a copy of the model on one device of this machine; *replicas*
are worker processes on several machines sharing variables held by
parameter-server (ps) tasks. As in TF-Slim:

  * variables are created once (by the first clone) on the variables device
    (round-robin over the ps tasks, or this worker's CPU) and shared;
  * each clone's loss is its own losses divided by the number of clones, and
    the regularization losses are added to the first clone only, so they
    count once;
  * gradients are summed over clones, which (given the division above) is
    the gradient of the average clone loss plus the regularization;
  * TensorBoard gets TF-Slim's `Losses/clone_loss` (one per clone,
    `Losses/clone_<i>/clone_loss`, with several) and
    `Losses/regularization_loss`.

Usage:
  config = DeploymentConfig(num_clones=2, clone_on_cpu=True)
  with tf.device(config.variables_device()):
    global_step = tf.train.get_or_create_global_step()
  with tf.device(config.inputs_device()):
    images, labels = ...
  clones = create_clones(config, model_fn, [images, labels])
  with tf.device(config.optimizer_device()):
    optimizer = tf.train.MomentumOptimizer(...)
  total_loss, grads_and_vars = optimize_clones(clones, optimizer)
"""

import collections

import tensorflow.compat.v1 as tf
import tf_slim as slim

from slimvision.core import summaries as summary_lib

Clone = collections.namedtuple('Clone', ['outputs', 'scope', 'device'])
DeployedModel = collections.namedtuple(
    'DeployedModel', ['train_op', 'summary_op', 'total_loss', 'clones'])


class DeploymentConfig(object):
  """Where clones, inputs, variables and the optimizer are placed."""

  def __init__(self, num_clones=1, clone_on_cpu=False, replica_id=0,
               num_replicas=1, num_ps_tasks=0, worker_job_name='worker',
               ps_job_name='ps'):
    """Args:
      num_clones: model copies on this machine (one per GPU, or on the CPU).
      clone_on_cpu: put the clones on the CPU instead of GPUs.
      replica_id: index of this worker among the replicas (0 is the chief).
      num_replicas: number of worker replicas.
      num_ps_tasks: number of parameter-server tasks (0: variables local).
      worker_job_name, ps_job_name: job names in the cluster spec.

    Raises:
      ValueError: replicas without ps tasks, or counts out of range.
    """
    if num_clones < 1:
      raise ValueError('num_clones must be at least 1, got %d' % num_clones)
    if num_replicas > 1 and num_ps_tasks < 1:
      raise ValueError('With several replicas (--worker_replicas=%d) the '
                       'variables need parameter servers: set --num_ps_tasks'
                       % num_replicas)
    if num_ps_tasks > 0 and (not worker_job_name or not ps_job_name):
      raise ValueError('worker_job_name and ps_job_name are required with '
                       'parameter servers')
    if not 0 <= replica_id < max(1, num_replicas):
      raise ValueError('replica_id %d out of range [0, %d)' %
                       (replica_id, num_replicas))
    self.num_clones = num_clones
    self.clone_on_cpu = clone_on_cpu
    self.replica_id = replica_id
    self.num_replicas = num_replicas
    self.num_ps_tasks = num_ps_tasks
    self.worker_job_name = worker_job_name
    self.ps_job_name = ps_job_name
    self._worker_device = ('/job:%s/task:%d' % (worker_job_name, replica_id)
                           if num_ps_tasks > 0 else '')
    self._ps_device = '/job:' + ps_job_name if num_ps_tasks > 0 else ''

  @property
  def is_chief(self):
    return self.replica_id == 0

  def caching_device(self):
    """Caches ps variables on the worker that reads them (None if local)."""
    if self.num_ps_tasks > 0:
      return lambda op: op.device
    return None

  def clone_device(self, clone_index):
    """Device string of clone `clone_index`."""
    if not 0 <= clone_index < self.num_clones:
      raise ValueError('clone_index %d out of range [0, %d)' %
                       (clone_index, self.num_clones))
    if self.clone_on_cpu:
      return self._worker_device + '/device:CPU:0'
    return self._worker_device + '/device:GPU:%d' % clone_index

  def clone_scope(self, clone_index):
    """Name scope of clone `clone_index` ('' when there is one clone)."""
    if not 0 <= clone_index < self.num_clones:
      raise ValueError('clone_index %d out of range [0, %d)' %
                       (clone_index, self.num_clones))
    return 'clone_%d' % clone_index if self.num_clones > 1 else ''

  def optimizer_device(self):
    """The optimizer (gradient sums, updates) runs on this worker's CPU."""
    return self._worker_device + '/device:CPU:0'

  def inputs_device(self):
    """The input pipeline runs on this worker's CPU."""
    return self._worker_device + '/device:CPU:0'

  def variables_device(self):
    """Device (function) for variables: round-robin over the ps tasks."""
    local = self._worker_device + '/device:CPU:0'
    if self.num_ps_tasks == 0:
      return local
    strategy = tf.train.replica_device_setter(
        ps_tasks=self.num_ps_tasks, ps_device=self._ps_device,
        worker_device=local, merge_devices=True)
    return strategy


def create_clones(config, model_fn, args=None, kwargs=None):
  """Calls `model_fn(*args, **kwargs)` once per clone, sharing variables.

  `model_fn` adds its losses with tf.losses / slim.losses; whatever it
  returns becomes the clone's `outputs`.

  Returns:
    A list of Clone(outputs, scope, device), one per clone.
  """
  clones = []
  args = args or []
  kwargs = kwargs or {}
  with slim.arg_scope([slim.model_variable, slim.variable],
                      device=config.variables_device()):
    for i in range(config.num_clones):
      with tf.name_scope(config.clone_scope(i)) as clone_scope:
        clone_device = config.clone_device(i)
        with tf.device(clone_device):
          with tf.variable_scope(tf.get_variable_scope(),
                                 reuse=True if i > 0 else None):
            outputs = model_fn(*args, **kwargs)
          clones.append(Clone(outputs, clone_scope, clone_device))
  return clones


def _clone_loss(clone, num_clones, regularization_losses):
  """This clone's share of the loss (None if it has no loss at all)."""
  parts = []
  with tf.device(clone.device):
    losses = tf.get_collection(tf.GraphKeys.LOSSES, clone.scope)
    if losses:
      clone_loss = tf.add_n(losses, name='clone_loss')
      summary_lib.scalar('/'.join(filter(None, [
          'Losses', clone.scope.rstrip('/'), 'clone_loss'])), clone_loss)
      if num_clones > 1:
        clone_loss = tf.div(clone_loss, 1.0 * num_clones,
                            name='scaled_clone_loss')
      parts.append(clone_loss)
    if regularization_losses:
      regularization_loss = tf.add_n(regularization_losses,
                                     name='regularization_loss')
      summary_lib.scalar('Losses/regularization_loss', regularization_loss)
      parts.append(regularization_loss)
    if not parts:
      return None
    return tf.add_n(parts)


def _sum_gradients(clone_grads):
  """Sums the gradients of each variable over the clones."""
  summed = []
  for grads_and_vars in zip(*clone_grads):
    grads = [g for g, _ in grads_and_vars if g is not None]
    var = grads_and_vars[0][1]
    if grads:
      total = grads[0] if len(grads) == 1 else tf.add_n(
          grads, name=var.op.name + '/sum_grads')
      summed.append((total, var))
  return summed


def optimize_clones(clones, optimizer, regularization_losses=None, **kwargs):
  """Computes the total loss and the gradients summed over the clones.

  Args:
    clones: from create_clones().
    optimizer: a tf.train.Optimizer.
    regularization_losses: defaults to tf.GraphKeys.REGULARIZATION_LOSSES;
      added to the first clone's loss only.
    **kwargs: passed to optimizer.compute_gradients (e.g. var_list).

  Returns:
    (total_loss scalar Tensor, list of (gradient, variable)).
  """
  if regularization_losses is None:
    regularization_losses = tf.get_collection(
        tf.GraphKeys.REGULARIZATION_LOSSES)
  clone_losses, clone_grads = [], []
  for clone in clones:
    with tf.name_scope(clone.scope):
      loss = _clone_loss(clone, len(clones), regularization_losses)
      if loss is not None:
        clone_losses.append(loss)
        with tf.device(clone.device):
          clone_grads.append(optimizer.compute_gradients(loss, **kwargs))
      regularization_losses = None  # Counted once, in the first clone.
  if not clone_losses:
    raise ValueError('The model function added no loss to tf.GraphKeys.LOSSES')
  total_loss = tf.add_n(clone_losses, name='total_loss')
  return total_loss, _sum_gradients(clone_grads)


def train_op(clones, optimizer, global_step, var_list=None, update_ops=None,
             summarize_gradients=False):
  """The training step: the clones' summed gradients applied by `optimizer`.

  Args:
    clones: from create_clones().
    optimizer: a tf.train.Optimizer (SyncReplicasOptimizer included).
    global_step: the step variable that applying the gradients increments.
    var_list: the variables to train (default: all trainable variables).
    update_ops: ops to run with every step (batch-norm statistics, moving
      averages).
    summarize_gradients: add a histogram of each gradient.

  Returns:
    (train_tensor, total_loss): scalar Tensors; running `train_tensor` takes
    one step and returns the total loss before it.
  """
  total_loss, grads_and_vars = optimize_clones(clones, optimizer,
                                               var_list=var_list)
  if summarize_gradients:
    for grad, var in grads_and_vars:
      summary_lib.histogram(var.op.name + '/gradients', grad)
  apply_op = optimizer.apply_gradients(grads_and_vars, global_step=global_step)
  with tf.control_dependencies([apply_op] + list(update_ops or [])):
    train_tensor = tf.identity(total_loss, name='train_op')
  return train_tensor, total_loss


def deploy(config, model_fn, args=None, kwargs=None, optimizer=None,
           summarize_gradients=False):
  """Creates the clones and, given an optimizer, the train op.

  Returns:
    DeployedModel(train_op, summary_op, total_loss, clones). Without an
    optimizer train_op is None and total_loss sums the clone losses.
  """
  summaries = set(tf.get_collection(tf.GraphKeys.SUMMARIES))
  with tf.device(config.variables_device()):
    global_step = tf.train.get_or_create_global_step()
  clones = create_clones(config, model_fn, args, kwargs)
  first_clone = clones[0]
  update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS, first_clone.scope)
  train_tensor = None
  if optimizer is not None:
    with tf.device(config.optimizer_device()):
      train_tensor, total_loss = train_op(
          clones, optimizer, global_step, update_ops=update_ops,
          summarize_gradients=summarize_gradients)
  else:
    losses = [_clone_loss(c, len(clones), None) for c in clones]
    total_loss = tf.add_n([l for l in losses if l is not None])
  summaries.add(summary_lib.scalar('total_loss', total_loss))
  # The first clone's summaries stand for all clones, as in TF-Slim.
  other_clones = tuple(clone.scope for clone in clones[1:])
  summaries |= {s for s in tf.get_collection(tf.GraphKeys.SUMMARIES)
                if not (other_clones and s.name.startswith(other_clones))}
  summary_op = tf.summary.merge(list(summaries), name='summary_op')
  return DeployedModel(train_tensor, summary_op, total_loss, clones)
