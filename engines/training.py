"""The training engine: `run(TrainConfig)` trains a network from a dataset.

It builds TF-Slim's training graph (clones through deployment/model_deploy,
the learning-rate schedule and optimizer of the config, moving averages,
sync replicas) and runs it in a MonitoredSession that resumes from and
writes checkpoints and summaries to the train_dir. The pieces (schedules,
optimizers, fine-tuning restore, scope selection) are functions of plain
arguments so that they can be tested on their own.
"""

import dataclasses
import functools
import inspect
import math
import os
import signal
import time

import tensorflow.compat.v1 as tf
import tf_slim as slim

from slimvision.core import errors
from slimvision.core import log
from slimvision.core import summaries as summary_lib
from slimvision.core.errors import UserError
from slimvision.datasets import dataset_factory
from slimvision.deployment import model_deploy
from slimvision.engines import checkpoints
from slimvision.engines import cluster as cluster_lib
from slimvision.engines import config as config_lib
from slimvision.engines import hooks as hooks_lib
from slimvision.engines import pipeline
from slimvision.engines import precision as precision_lib
from slimvision.engines import quantization
from slimvision.engines import train_dir as train_dir_lib
from slimvision.engines.config import DECAY_TYPES, OPTIMIZERS
from slimvision.nets import nets_factory
from slimvision.preprocessing import preprocessing_factory

CONFIG_FILENAME = 'train_config.json'
_AUX_LOSS_WEIGHT = 0.4


def learning_rate(global_step, decay_type, base_rate, decay_steps,
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


# A period no run reaches: the checkpoint hook needs one.
_NEVER_SECS = 10**9

# The ops that hold a variable: resource handles and TF1 reference variables.
_VARIABLE_OPS = ('VarHandleOp', 'VariableV2', 'Variable')


def fine_tune_init_fn(checkpoint_path, exclude_scopes='',
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
  shapes = checkpoints.variable_shapes(checkpoint_path)
  exclusions = _scopes(exclude_scopes)
  model_variables = slim.get_model_variables()
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



def run(config):
  """Trains as `config` (a TrainConfig) says; returns the final global step.

  A ps task of a cluster serves its variables until the workers report the
  end of training (returns None). Everything else trains in a graph of its
  own: the process stays in TF2's eager mode outside it.

  Raises:
    UserError: a setting or input the run cannot honour.
  """
  started = time.time()
  config.validate()
  _check_augmentation(config)
  cluster = cluster_lib.resolve(config.ps_hosts, config.worker_hosts,
                                config.job_name, config.task)
  if cluster:
    server = cluster_lib.start_server(cluster)
    if cluster.job_name == 'ps':
      log.info('Parameter server %d of %d serving on %s until training '
               'ends', cluster.task, len(cluster.spec['ps']), server.target)
      cluster_lib.serve_until_done(server, cluster, log.info)
      return None
    config = dataclasses.replace(
        config, master=server.target, task=cluster.task,
        worker_replicas=len(cluster.spec['worker']),
        num_ps_tasks=len(cluster.spec['ps']))
  if config.task != 0:  # Workers write nothing in the train_dir.
    tf.gfile.MakeDirs(config.train_dir)
    with tf.Graph().as_default():
      return _train(config, started)
  with train_dir_lib.lock(config.train_dir):
    train_dir_lib.remove_partial_saves(config.train_dir)
    train_dir_lib.repair_checkpoint_state(config.train_dir)
    try:
      with tf.Graph().as_default():
        return _train(config, started)
    except (tf.errors.OpError, OSError) as e:
      if not errors.is_out_of_space(e):
        raise
      # Saves go to temporary names, so the checkpoints written hold; the
      # cut one's temporary files only take space.
      train_dir_lib.remove_partial_saves(config.train_dir)
      latest = checkpoints.latest_in_dir(config.train_dir)
      raise UserError('%s; --train_dir %s keeps %s' % (
          errors.describe_out_of_space(e), config.train_dir,
          'its checkpoints up to %s: free some space and run the same '
          'command to resume from it' % os.path.basename(latest)
          if latest else 'no checkpoint'))


def _check_augmentation(config):
  """The augmentation flags belong to the inception preprocessing."""
  if not config.augmentation():
    return
  family = preprocessing_factory.family(config.preprocessing)
  if family != 'inception':
    raise UserError(
        '--min_crop_area, --nocolor_distortion and --random_rotate_90 apply '
        'to the inception preprocessing; %s uses the %s preprocessing' %
        (config.preprocessing, family))


def _add_summaries(end_points, images):
  """TF-Slim's training summaries plus a few input images."""
  summaries = set(tf.get_collection(tf.GraphKeys.SUMMARIES))
  for name, value in end_points.items():
    if value.dtype.is_floating:
      summaries.add(summary_lib.histogram('activations/' + name, value))
      summaries.add(summary_lib.scalar('sparsity/' + name,
                                       tf.nn.zero_fraction(value)))
  for loss in tf.get_collection(tf.GraphKeys.LOSSES):
    summaries.add(summary_lib.scalar('losses/%s' % loss.op.name, loss))
  for variable in slim.get_model_variables():
    summaries.add(summary_lib.histogram(variable.op.name, variable))
  summaries.add(tf.summary.image('images', images, max_outputs=3))
  return summaries


def _warn_if_batch_norm_lags(config):
  """Warns when a run from scratch is too short for the batch-norm decay.

  After n steps the moving mean and variance still hold decay^n of their
  first steps' values; when that is above 5% (n < 3 / (1 - decay)),
  evaluation, which uses them, sees statistics of weights long gone and
  may predict one class for everything.
  """
  spec = nets_factory.model_spec(config.model_name)
  steps = config.max_number_of_steps
  if not steps or not spec.batch_norm_decay_arg:
    return
  decay = config.batch_norm_decay
  if decay is None:
    decay = inspect.signature(spec.arg_scope()).parameters[
        spec.batch_norm_decay_arg].default
  if decay ** steps <= 0.05:
    return
  suggested = min(0.999, max(0.9, 1.0 - 5.0 / steps))
  log.warning(
      'Warning: --max_number_of_steps=%d is short for a batch-norm decay of '
      '%g: the moving statistics that evaluation uses would still hold '
      '%.0f%% of the first steps\' values. For a run this short from scratch '
      'pass --batch_norm_decay=%.4g (or train longer).', steps, decay,
      100 * decay ** steps, suggested)


def _note_clones_on_the_cpu(config):
  """Says what --num_clones does where the clones cannot have a GPU each."""
  if config.num_clones > 1 and (config.clone_on_cpu or
                                not tf.config.list_physical_devices('GPU')):
    log.info(
        'Note: --num_clones=%d run on the CPU (%s): the clones, %d '
        'examples each, take turns on the same cores and average their '
        'gradients; --num_clones=1 with the same --batch_size=%d is '
        'usually faster.', config.num_clones,
        '--clone_on_cpu' if config.clone_on_cpu else 'no GPU here',
        config.batch_size // config.num_clones, config.batch_size)


def _train(config, started):
  """Builds the training graph in the default graph and runs the loop.

  `started` is when the run began (time.time()), for the start-up line.
  """
  chosen, reason = precision_lib.choose(config.precision, config.model_name)
  log.info('Precision: %s (%s)', chosen, reason)
  dataset = dataset_factory.get_dataset(
      config.dataset_name, config.dataset_split_name, config.dataset_dir)
  num_classes = pipeline.classes_after_offset(
      config.dataset_name, dataset.num_classes, config.labels_offset)
  network_fn = nets_factory.get_network_fn(
      config.model_name, num_classes=num_classes,
      weight_decay=config.weight_decay, is_training=True,
      batch_norm_decay=config.batch_norm_decay)
  preprocessing_fn = preprocessing_factory.get_preprocessing(
      config.preprocessing, is_training=True,
      use_grayscale=config.use_grayscale)
  image_size = config.train_image_size or network_fn.default_image_size
  augmentation = config.augmentation()
  if config.seed is not None:
    tf.set_random_seed(config.seed)
  deployment = model_deploy.DeploymentConfig(
      num_clones=config.num_clones, clone_on_cpu=config.clone_on_cpu,
      replica_id=config.task, num_replicas=config.worker_replicas,
      num_ps_tasks=config.num_ps_tasks)
  _note_clones_on_the_cpu(config)
  # A sharded ps checkpoint is the chief's to restore, if it restores at all.
  latest = (checkpoints.latest_in_dir(config.train_dir) if config.num_ps_tasks
            else checkpoints.latest_readable_in_dir(config.train_dir))
  write_config = functools.partial(
      config_lib.write_json, config,
      os.path.join(config.train_dir, CONFIG_FILENAME), image_size=image_size,
      num_classes=num_classes, num_samples=dataset.num_samples)
  # From here on the config carries the precision chosen, not 'auto' (the
  # train_config.json keeps the flag as given).
  config = dataclasses.replace(config, precision=chosen)
  log.info(
      'Training %s on %s/%s (%d examples, %d classes) at %d px: batch %d, '
      '%s steps, %s, %s in %s', config.model_name, config.dataset_name,
      config.dataset_split_name, dataset.num_samples, num_classes,
      image_size, config.batch_size, config.max_number_of_steps or 'unlimited',
      chosen,
      'resuming' if latest else (
          'fine-tuning' if config.checkpoint_path else 'from scratch'),
      config.train_dir)
  if not latest and not config.checkpoint_path:
    _warn_if_batch_norm_lags(config)

  with tf.device(deployment.variables_device()):
    global_step = tf.train.get_or_create_global_step()

  # A def, not a lambda: AutoGraph cannot find the source of a lambda that
  # spans lines and warns about it.
  def preprocess(image):
    return preprocessing_fn(image, image_size, image_size, **augmentation)

  skipped = (pipeline.SkippedRecords() if config.skip_corrupt_records
             else None)
  with tf.device(deployment.inputs_device()):
    batches = pipeline.build_dataset(
        dataset, preprocess, batch_size=config.batch_size // config.num_clones,
        is_training=True, num_readers=config.num_readers,
        num_threads=config.num_preprocessing_threads,
        labels_offset=config.labels_offset, seed=config.seed,
        skipped=skipped,
        encoded_images=pipeline.use_encoded_images(
            config.jpeg_decode, preprocessing_fn, dataset),
        cache_images=_fits_image_cache(config, dataset))
    iterator = tf.data.make_one_shot_iterator(batches)

  def clone_fn():
    images, labels = iterator.get_next()
    logits, end_points = network_fn(images)
    onehot = tf.one_hot(labels, depth=num_classes)
    if 'AuxLogits' in end_points:
      tf.losses.softmax_cross_entropy(
          onehot, end_points['AuxLogits'],
          label_smoothing=config.label_smoothing, weights=_AUX_LOSS_WEIGHT,
          scope='aux_loss')
    tf.losses.softmax_cross_entropy(onehot, logits,
                                    label_smoothing=config.label_smoothing,
                                    weights=1.0)
    return end_points, images

  with nets_factory.naming_the_image_size_flag('--train_image_size'):
    clones = model_deploy.create_clones(deployment, clone_fn)
  if config.quantize_delay >= 0:
    # As research/slim: on the clones, before the gradients are added.
    quantization.create_training_graph(tf.get_default_graph(),
                                       config.quantize_delay)
  first_clone_scope = deployment.clone_scope(0)
  end_points, images = clones[0].outputs
  update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS, first_clone_scope)
  if config.freeze_batch_norm_statistics:
    update_ops = update_ops_in_scopes(update_ops, config.trainable_scopes,
                                      first_clone_scope)
  summaries = _add_summaries(end_points, images)

  variable_averages, moving_average_variables = None, None
  if config.moving_average_decay:
    moving_average_variables = slim.get_model_variables()
    variable_averages = tf.train.ExponentialMovingAverage(
        config.moving_average_decay, global_step)

  with tf.device(deployment.optimizer_device()):
    examples_per_step = config.batch_size * (
        config.replicas_to_aggregate if config.sync_replicas else 1)
    steps_per_epoch = dataset.num_samples / float(examples_per_step)
    rate = learning_rate(
        global_step, config.learning_rate_decay_type, config.learning_rate,
        decay_steps=max(1, int(steps_per_epoch * config.num_epochs_per_decay)),
        decay_factor=config.learning_rate_decay_factor,
        end_rate=config.end_learning_rate,
        warmup_steps=int(math.ceil(steps_per_epoch * config.warmup_epochs)),
        total_steps=config.max_number_of_steps)
    opt = precision_lib.wrap_optimizer(chosen, optimizer(config, rate))
    summaries.add(summary_lib.scalar('learning_rate', rate))

  if config.sync_replicas:
    opt = tf.train.SyncReplicasOptimizer(
        opt, replicas_to_aggregate=config.replicas_to_aggregate,
        total_num_replicas=config.worker_replicas,
        variable_averages=variable_averages,
        variables_to_average=moving_average_variables)
  elif variable_averages is not None:
    update_ops.append(variable_averages.apply(moving_average_variables))

  # train_op adds TF-Slim's Losses/clone_loss and Losses/regularization_loss.
  before = set(tf.get_collection(tf.GraphKeys.SUMMARIES))
  train_tensor, total_loss = model_deploy.train_op(
      clones, opt, global_step,
      var_list=variables_to_train(config.trainable_scopes),
      update_ops=update_ops)
  summaries.add(summary_lib.scalar('total_loss', total_loss))
  if config.sync_replicas:
    _quiet_chief_queue_runner(opt)
  summaries |= set(tf.get_collection(tf.GraphKeys.SUMMARIES)) - before
  summary_op = tf.summary.merge(
      list(summaries | set(tf.get_collection(tf.GraphKeys.SUMMARIES,
                                             first_clone_scope))))
  if latest and not config.num_ps_tasks:
    # Before the session: TensorFlow's restore error names no variable.
    checkpoints.check_fits(latest, {v.op.name: v for v in
                                    tf.global_variables()},
                           resuming_in=config.train_dir)
  if deployment.is_chief:
    # Only now, so a run refused above leaves the earlier run's record.
    write_config()
  step = _loop(config, deployment, train_tensor, total_loss, summary_op,
               opt, global_step, started, latest)
  if skipped is not None:
    log.info('%s', skipped.summary())
  return step


def _quiet_chief_queue_runner(sync_optimizer):
  """Lets the sync chief's token thread end quietly when the session closes.

  The thread waits for the workers' gradients; closing the session at the
  end cancels that wait, and the plain QueueRunner reports the
  CancelledError as a crash with a traceback (after a clean run). Treating
  cancellation as the queue's normal end, as QueueRunner allows, silences
  only that. The runner is the optimizer's own (a private attribute: the
  public getter hands it to the session hook).
  """
  runner = sync_optimizer.get_chief_queue_runner()
  sync_optimizer._chief_queue_runner = tf.train.QueueRunner(  # pylint: disable=protected-access
      runner.queue, runner.enqueue_ops,
      queue_closed_exception_types=(tf.errors.OutOfRangeError,
                                    tf.errors.CancelledError))


def _loop(config, deployment, train_tensor, total_loss, summary_op, opt,
          global_step, started, latest):
  """Runs the training steps in a MonitoredSession; returns the last step.
  `latest` is the train_dir's checkpoint the run resumes from, or None."""
  is_chief = deployment.is_chief
  init_fn = None
  if config.checkpoint_path and latest:
    log.info('Ignoring --checkpoint_path because a checkpoint already '
             'exists in %s: resuming from %s', config.train_dir, latest)
  elif latest and config.num_ps_tasks and is_chief:
    log.info('Latest checkpoint %s: restored unless the parameter servers '
             'still hold the model', latest)
  elif latest:
    log.info('Resuming from %s', latest)
  elif config.checkpoint_path:
    init_fn = fine_tune_init_fn(config.checkpoint_path,
                                config.checkpoint_exclude_scopes,
                                config.ignore_missing_vars)
  scaffold = tf.train.Scaffold(
      init_fn=init_fn, summary_op=summary_op,
      # Relative paths in the checkpoint state file: a train_dir copied or
      # moved elsewhere resumes from its own checkpoints.
      saver=tf.train.Saver(max_to_keep=train_dir_lib.KEEP_CHECKPOINTS,
                           sharded=config.num_ps_tasks > 0,
                           save_relative_paths=True))

  step_after = hooks_lib.step_after(train_tensor)
  hooks = [hooks_lib.FiniteLossHook(total_loss, step_after, config.train_dir)]
  if config.sync_replicas:
    hooks.append(opt.make_session_run_hook(is_chief))
    if is_chief:
      hooks.append(hooks_lib.ReleaseSyncWorkersHook(opt,
                                                    config.worker_replicas))
  if config.max_number_of_steps:
    hooks.append(hooks_lib.StopAtStepHook(step_after,
                                          config.max_number_of_steps))
  hooks.append(hooks_lib.ProgressHook(
      total_loss, step_after, config.log_every_n_steps, config.batch_size,
      config.max_number_of_steps, log=log.info))
  session_config = _session_config(config)
  if is_chief:
    # A period of 0 seconds turns the periodic saves off, as it did in
    # TF-Slim (its Supervisor); the last step's summaries and checkpoint,
    # and the first checkpoint, are still written.
    if config.save_summaries_steps or config.save_summaries_secs:
      every = ({'save_steps': config.save_summaries_steps}
               if config.save_summaries_steps else
               {'save_secs': config.save_summaries_secs})
      hooks.append(tf.train.SummarySaverHook(
          output_dir=config.train_dir, scaffold=scaffold, **every))
    hooks.append(hooks_lib.LastStepSummaryHook(summary_op, config.train_dir))
    hooks.append(tf.train.CheckpointSaverHook(
        config.train_dir,
        save_secs=config.save_interval_secs or _NEVER_SECS,
        scaffold=scaffold,
        listeners=[train_dir_lib.PartialSaveCleaner(config.train_dir)]))
    if config.num_ps_tasks:
      creator = cluster_lib.ChiefSessionCreator(
          scaffold=scaffold, master=config.master, config=session_config,
          checkpoint_dir=config.train_dir, global_step=global_step,
          log=log.info)
    else:
      # The checkpoint chosen above, which is older than the newest when
      # that one cannot be read.
      creator = tf.train.ChiefSessionCreator(
          scaffold=scaffold, master=config.master, config=session_config,
          checkpoint_filename_with_path=latest)
  else:
    creator = cluster_lib.WorkerSessionCreator(
        scaffold=scaffold, master=config.master, config=session_config,
        log=log.info)
  if config.num_ps_tasks:
    creator = cluster_lib.ReconnectLogger(creator, log.warning)
  log.info('Graph built; starting the session')
  # First, so that the session counts as ready before the other hooks' own
  # start (the step-0 checkpoint, the graph for TensorBoard), which the
  # first step's share then includes, as the progress line's does.
  hooks.insert(0, hooks_lib.StartupHook(started, time.time(),
                                        log.command_start, log=log.info))
  # In a cluster a step can wait on the other tasks without end; a Python
  # handler would then never run, so SIGTERM ends the task at once there.
  stop_on_signal = (
      hooks_lib.StopOnSignalHook((signal.SIGINT,), (signal.SIGTERM,))
      if config.num_ps_tasks else hooks_lib.StopOnSignalHook())
  hooks.append(stop_on_signal)
  # The sync-replicas token queue runner can block on a queue nobody reads
  # once training stops; do not wait TF's default 2 minutes for it.
  with stop_on_signal.installed(), tf.train.MonitoredSession(
      session_creator=creator, hooks=hooks,
      stop_grace_period_secs=5) as session:
    # The raw session, without the hooks: reading the step is not a step.
    def read_step():
      return int(session.run_step_fn(
          lambda step_context: step_context.session.run(global_step)))
    step = read_step()
    if config.max_number_of_steps and step >= config.max_number_of_steps:
      log.info('Already at step %d of --max_number_of_steps=%d: nothing to '
               'train', step, config.max_number_of_steps)
    else:
      while not session.should_stop() and stop_on_signal.received is None:
        session.run(train_tensor)
      step = read_step()
  if config.num_ps_tasks:
    cluster_lib.report_done(config.master, config.num_ps_tasks, config.task,
                            session_config, log.info)
  if stop_on_signal.received is not None:
    saved = is_chief and checkpoints.latest_in_dir(config.train_dir)
    raise errors.Interrupted(
        'Stopped by %s at step %d%s' % (
            signal.Signals(stop_on_signal.received).name, step,
            '; saved %s: run the same command to resume' % saved
            if saved else ''), stop_on_signal.received)
  if is_chief:
    log.info('Training finished; checkpoints and TensorBoard logs in %s',
             config.train_dir)
  return step


def _fits_image_cache(config, dataset):
  """Whether to keep the decoded training images in memory: asked for by
  --image_cache_mb, and the split's estimated size fits in it (logged)."""
  if not config.image_cache_mb:
    return False
  size = pipeline.decoded_size_bytes(dataset)
  if size is None:
    log.warning('Not caching the decoded images (--image_cache_mb): their '
                'size cannot be estimated (a first record is unreadable or '
                'its image is not one Pillow reads)')
    return False
  mib = size / 2.0**20
  if mib > config.image_cache_mb:
    log.warning('Not caching the decoded images: the %d images of %s/%s '
                'take about %.0f MiB decoded, more than --image_cache_mb=%d',
                dataset.num_samples, config.dataset_name,
                config.dataset_split_name, mib, config.image_cache_mb)
    return False
  log.info('Caching the decoded images in memory: about %.0f MiB of '
           '--image_cache_mb=%d; the first epoch reads them in file order',
           mib, config.image_cache_mb)
  return True


def _session_config(config):
  """The training session's ConfigProto; `config.precision` is the one
  chosen (not 'auto')."""
  session_config = precision_lib.session_config_for(
      config.precision, pipeline.threads_config(config))
  if config.num_ps_tasks > 0:
    # A worker talks to the ps tasks and itself only, so it need not wait
    # for the other workers to come up.
    session_config.device_filters.extend(['/job:ps', '/job:worker/task:%d' %
                                          config.task])
  return session_config
