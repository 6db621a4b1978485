"""Deploys a model over several clones (GPUs or CPUs) and replicas.

A *clone* is a copy of the model on one device of this machine; *replicas*
are worker processes on several machines sharing variables held by
parameter-server (ps) tasks. As in TF-Slim's research/slim/deployment:

  * variables are created once (by the first clone) on the variables device
    (round-robin over the ps tasks' CPUs, or this machine's CPU) and shared;
  * with ps tasks the clones, the inputs and the optimizer run on
    `/job:worker` with no task: every worker builds its own graph (between-
    graph replication), and the session's device filters (the training
    engine sets them) resolve `/job:worker` to the worker's own task;
  * the input pipeline and the optimizer run on the CPU, off the GPUs;
  * each clone's loss is its own losses divided by the number of clones, and
    the regularization losses are added to the first clone only, so they
    count once;
  * gradients are summed over clones, which (given the division above) is
    the gradient of the average clone loss plus the regularization;
  * TensorBoard gets `Losses/clone_loss` (one per clone,
    `Losses/clone_<i>/clone_loss`, with several) and
    `Losses/regularization_loss`, made on the optimizer's device (the CPU),
    not on the clones' GPUs.

Usage:
  config = DeploymentConfig(num_clones=2, clone_on_cpu=True)
  with tf.device(config.inputs_device()):
    images, labels = ...
  with tf.device(config.optimizer_device()):
    optimizer = tf.train.MomentumOptimizer(...)
  model = deploy(config, model_fn, [images, labels], optimizer=optimizer)
  # model.train_op, model.summary_op, model.total_loss, model.clones

`deploy` without an optimizer builds the clones and their losses only (for
evaluation); `create_clones`, `optimize_clones` and `train_op` are the
pieces, for a caller that builds its own training step.
"""

import collections

import tensorflow.compat.v1 as tf
import tf_slim as slim

from slimvision.core import log
from slimvision.core import summaries as summary_lib
from slimvision.core.errors import UserError

__all__ = ['create_clones', 'deploy', 'optimize_clones', 'train_op',
           'DeployedModel', 'DeploymentConfig', 'Clone']

# What model_fn returned, the name scope it ran in ('' or 'clone_<i>/') and
# the device it ran on.
Clone = collections.namedtuple('Clone', ['outputs', 'scope', 'device'])
# train_op and total_loss are None when deploy() had no optimizer or found
# no loss; summary_op is None when there is nothing to summarize.
DeployedModel = collections.namedtuple(
    'DeployedModel', ['train_op', 'summary_op', 'total_loss', 'clones'])

_CPU = '/device:CPU:0'


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
      UserError (a ValueError): replicas without ps tasks, a job name
        missing, or counts out of range.
    """
    if num_clones < 1:
      raise UserError('num_clones must be at least 1, got %d' % num_clones)
    if num_replicas > 1 and num_ps_tasks < 1:
      raise UserError('With several replicas (--worker_replicas=%d) the '
                      'variables need parameter servers: set --num_ps_tasks'
                      % num_replicas)
    if num_ps_tasks > 0 and (not worker_job_name or not ps_job_name):
      raise UserError('worker_job_name and ps_job_name are required with '
                      'parameter servers')
    if not 0 <= replica_id < max(1, num_replicas):
      raise UserError('replica_id %d out of range [0, %d)' %
                      (replica_id, num_replicas))
    self._num_clones = num_clones
    self._clone_on_cpu = clone_on_cpu
    self._replica_id = replica_id
    self._num_replicas = num_replicas
    self._num_ps_tasks = num_ps_tasks
    self._worker_device = '/job:' + worker_job_name if num_ps_tasks else ''
    self._ps_device = '/job:' + ps_job_name if num_ps_tasks else ''

  @property
  def num_clones(self):
    return self._num_clones

  @property
  def clone_on_cpu(self):
    return self._clone_on_cpu

  @property
  def replica_id(self):
    return self._replica_id

  @property
  def num_replicas(self):
    return self._num_replicas

  @property
  def num_ps_tasks(self):
    return self._num_ps_tasks

  @property
  def worker_device(self):
    """'/job:<worker>' with ps tasks, else ''. No task: see the module doc."""
    return self._worker_device

  @property
  def ps_device(self):
    """'/job:<ps>' with ps tasks, else ''."""
    return self._ps_device

  @property
  def is_chief(self):
    return self._replica_id == 0

  def caching_device(self):
    """Caches ps variables on the device that reads them (None if local)."""
    if self._num_ps_tasks > 0:
      return lambda op: op.device
    return None

  def _check_clone_index(self, clone_index):
    if not 0 <= clone_index < self._num_clones:
      raise ValueError('clone_index %d out of range [0, %d)' %
                       (clone_index, self._num_clones))

  def clone_device(self, clone_index):
    """Device string of clone `clone_index` (GPU i, or the CPU)."""
    self._check_clone_index(clone_index)
    if self._clone_on_cpu:
      return self._worker_device + _CPU
    return self._worker_device + '/device:GPU:%d' % clone_index

  def clone_scope(self, clone_index):
    """Name scope of clone `clone_index` ('' when there is one clone)."""
    self._check_clone_index(clone_index)
    return 'clone_%d' % clone_index if self._num_clones > 1 else ''

  def optimizer_device(self):
    """The optimizer (gradient sums, updates, summaries) runs on the CPU."""
    return self._worker_device + _CPU

  def inputs_device(self):
    """The input pipeline runs on the CPU, leaving the GPUs to the clones."""
    return self._worker_device + _CPU

  def variables_device(self):
    """For tf.device(): the CPU, or, with ps tasks, a function placing each
    variable on the next ps task's CPU (round-robin) and leaving other ops
    where the enclosing scopes put them."""
    if self._num_ps_tasks == 0:
      return _CPU
    # worker_device=None: a non-variable op keeps the device it would have
    # had without this function (e.g. its clone's).
    return tf.train.replica_device_setter(
        ps_tasks=self._num_ps_tasks, ps_device=self._ps_device + _CPU,
        worker_device=None, merge_devices=True)


def create_clones(config, model_fn, args=None, kwargs=None):
  """Calls `model_fn(*args, **kwargs)` once per clone, sharing variables.

  `model_fn` adds its losses with tf.losses / slim.losses; whatever it
  returns becomes the clone's `outputs`. A clone's losses, summaries and
  update ops are the collections' entries under its `scope`.

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


def _gather_clone_loss(clone, num_clones, regularization_losses):
  """This clone's share of the loss (None if it has no loss at all).

  The sums run on the clone's device; their summaries are made outside it,
  on the caller's device (the optimizer's CPU in deploy()).
  """
  clone_loss, regularization_loss = None, None
  with tf.device(clone.device):
    losses = tf.get_collection(tf.GraphKeys.LOSSES, clone.scope)
    if losses:
      clone_loss = tf.add_n(losses, name='clone_loss')
      if num_clones > 1:
        clone_loss = tf.div(clone_loss, 1.0 * num_clones,
                            name='scaled_clone_loss')
    if regularization_losses:
      regularization_loss = tf.add_n(regularization_losses,
                                     name='regularization_loss')
    parts = [l for l in (clone_loss, regularization_loss) if l is not None]
    total = tf.add_n(parts) if parts else None
  if clone_loss is not None:
    summary_lib.scalar('/'.join(filter(None, [
        'Losses', clone.scope.rstrip('/'), 'clone_loss'])), clone_loss)
  if regularization_loss is not None:
    summary_lib.scalar('Losses/regularization_loss', regularization_loss)
  return total


def _clone_losses(clones, regularization_losses, on_loss=None):
  """The clones' losses, regularization in the first clone's only; calls
  `on_loss(clone, loss)` for each clone with a loss (in its name scope)."""
  losses = []
  for clone in clones:
    with tf.name_scope(clone.scope):
      loss = _gather_clone_loss(clone, len(clones), regularization_losses)
      if loss is not None:
        losses.append(loss)
        if on_loss:
          on_loss(clone, loss)
    regularization_losses = None  # Counted once, in the first clone.
  return losses


def _clone_gradients(optimizer, clone, loss, **kwargs):
  """The (gradient, variable) pairs of `loss`, computed on the clone's
  device."""
  with tf.device(clone.device):
    return optimizer.compute_gradients(loss, **kwargs)


def _optimize_clone(optimizer, clone, num_clones, regularization_losses,
                    **kwargs):
  """research/slim's: (this clone's loss, its gradients), or (None, None)
  when it has no loss; optimize_clones does this for every clone."""
  loss = _gather_clone_loss(clone, num_clones, regularization_losses)
  if loss is None:
    return None, None
  return loss, _clone_gradients(optimizer, clone, loss, **kwargs)


def _sum_clones_gradients(clone_grads):
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
      added to the first clone's loss only ([] leaves them out).
    **kwargs: passed to optimizer.compute_gradients (e.g. var_list).

  Returns:
    (total_loss scalar Tensor, list of (gradient, variable)).

  Raises:
    ValueError: no clone has a loss.
  """
  if regularization_losses is None:
    regularization_losses = tf.get_collection(
        tf.GraphKeys.REGULARIZATION_LOSSES)
  clone_grads = []

  def compute_gradients(clone, loss):
    clone_grads.append(_clone_gradients(optimizer, clone, loss, **kwargs))

  losses = _clone_losses(clones, regularization_losses, compute_gradients)
  if not losses:
    raise ValueError('The model function added no loss to '
                     'tf.GraphKeys.LOSSES and there is no regularization '
                     'loss: nothing to optimize')
  total_loss = tf.add_n(losses, name='total_loss')
  return total_loss, _sum_clones_gradients(clone_grads)


def _add_gradients_summaries(grads_and_vars):
  """Histograms of each gradient and of its norm; returns the summaries."""
  summaries = []
  for grad, var in grads_and_vars:
    if grad is None:
      log.info('Variable %s has no gradient', var.op.name)
      continue
    values = grad.values if isinstance(grad, tf.IndexedSlices) else grad
    summaries.append(summary_lib.histogram(var.op.name + '/gradients',
                                           values))
    summaries.append(summary_lib.histogram(var.op.name + '/gradient_norm',
                                           tf.global_norm([values])))
  return summaries


def _apply(optimizer, grads_and_vars, global_step, total_loss, update_ops):
  """A tensor that applies the gradients and runs `update_ops`, then gives
  `total_loss` (its value from before the update)."""
  apply_op = optimizer.apply_gradients(grads_and_vars, global_step=global_step)
  with tf.control_dependencies([apply_op] + list(update_ops or [])):
    return tf.identity(total_loss, name='train_op')


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
    summarize_gradients: add histograms of each gradient and its norm.

  Returns:
    (train_tensor, total_loss): scalar Tensors; running `train_tensor` takes
    one step and returns the total loss before it.
  """
  total_loss, grads_and_vars = optimize_clones(clones, optimizer,
                                               var_list=var_list)
  if summarize_gradients:
    _add_gradients_summaries(grads_and_vars)
  return _apply(optimizer, grads_and_vars, global_step, total_loss,
                update_ops), total_loss


def _deploy_training(config, clones, optimizer, update_ops,
                     summarize_gradients):
  """(train_op or None, total_loss, gradient summaries) for deploy()."""
  with tf.device(config.variables_device()):
    global_step = tf.train.get_or_create_global_step()
  total_loss, grads_and_vars = optimize_clones(clones, optimizer)
  if not grads_and_vars:  # Nothing trainable: no step to take.
    return None, total_loss, []
  summaries = (_add_gradients_summaries(grads_and_vars) if summarize_gradients
               else [])
  return (_apply(optimizer, grads_and_vars, global_step, total_loss,
                 update_ops), total_loss, summaries)


def deploy(config, model_fn, args=None, kwargs=None, optimizer=None,
           summarize_gradients=False):
  """Creates the clones, their total loss and, given an optimizer, the
  train op; the losses, updates and summaries run on the optimizer device.

  Args:
    config: a DeploymentConfig.
    model_fn: called as model_fn(*args, **kwargs) once per clone.
    args, kwargs: its arguments.
    optimizer: a tf.train.Optimizer, or None to build the model only (an
      evaluation): no global step and no train op then.
    summarize_gradients: add histograms of each gradient and its norm.

  Returns:
    DeployedModel(train_op, summary_op, total_loss, clones). total_loss sums
    the clone losses and the regularization losses; it is None when the
    model has no loss (allowed without an optimizer only). The summaries are
    those from before deploy(), the first clone's and total_loss.
  """
  summaries = set(tf.get_collection(tf.GraphKeys.SUMMARIES))
  clones = create_clones(config, model_fn, args, kwargs)
  first_clone = clones[0]
  # The first clone's updates (batch-norm statistics) stand for all clones.
  update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS, first_clone.scope)
  train_tensor = None
  with tf.device(config.optimizer_device()):
    if optimizer is not None:
      train_tensor, total_loss, gradient_summaries = _deploy_training(
          config, clones, optimizer, update_ops, summarize_gradients)
      summaries.update(gradient_summaries)
    else:
      losses = _clone_losses(
          clones, tf.get_collection(tf.GraphKeys.REGULARIZATION_LOSSES))
      total_loss = (tf.add_n(losses, name='total_loss') if losses else None)
    # The first clone's summaries stand for all clones, as in TF-Slim.
    summaries.update(tf.get_collection(tf.GraphKeys.SUMMARIES,
                                       first_clone.scope))
    if total_loss is not None:
      summaries.add(summary_lib.scalar('total_loss', total_loss))
    summary_op = (tf.summary.merge(list(summaries), name='summary_op')
                  if summaries else None)
  return DeployedModel(train_tensor, summary_op, total_loss, clones)
