"""The training engine: `run(TrainConfig)` trains a network from a dataset.

It reads top to bottom as a run goes:
  - `run`: checks the config, joins the cluster (a ps task serves there
    and returns), takes the train_dir's lock;
  - `_train`: chooses the precision, finds the dataset and the checkpoint
    to resume from, and hands over to the parts:
      engines/train_graph.py     the graph: inputs, clones, loss, train op
      engines/optimization.py    learning-rate schedules and optimizers
      engines/fine_tuning.py     what is restored, trained and updated
      engines/train_session.py   saver, hooks, session, signals, the loop
  - the run's settings go to TRAIN_DIR/train_config.json when it writes its
    first checkpoint (train_dir.record_settings), so a run that fails
    first leaves the record of the runs before it.
"""

import dataclasses
import functools
import inspect
import os
import time

import tensorflow.compat.v1 as tf

from slimvision.core import errors
from slimvision.core import log
from slimvision.core.errors import UserError
from slimvision.datasets import dataset_factory
from slimvision.deployment import model_deploy
from slimvision.engines import checkpoints
from slimvision.engines import cluster as cluster_lib
from slimvision.engines import pipeline
from slimvision.engines import precision as precision_lib
from slimvision.engines import train_dir as train_dir_lib
from slimvision.engines import train_graph
from slimvision.engines import train_session
from slimvision.nets import nets_factory
from slimvision.preprocessing import preprocessing_factory

CONFIG_FILENAME = train_dir_lib.CONFIG_FILENAME


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
      cluster_lib.serve_until_done(
          server, cluster, log.info, worker_watch=cluster_lib.WorkerWatch(
              cluster.spec['worker'], config.ps_worker_timeout_secs))
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
      _raise_out_of_space(e, config.train_dir)


def _train(config, started):
  """Builds the training graph in the default graph and runs it.

  `started` is when the run began (time.time()), for the start-up line.
  """
  chosen, reason = precision_lib.choose(
      config.precision, config.model_name,
      in_cluster=train_session.in_cluster(config))
  log.info('Precision: %s (%s)', chosen, reason)
  dataset = dataset_factory.get_dataset(
      config.dataset_name, config.dataset_split_name, config.dataset_dir)
  num_classes = pipeline.classes_after_offset(
      config.dataset_name, dataset.num_classes, config.labels_offset)
  network_fn, image_size = train_graph.network_and_image_size(config,
                                                              num_classes)
  # A sharded ps checkpoint is the chief's to restore, if it restores at all.
  latest = (checkpoints.latest_in_dir(config.train_dir) if config.num_ps_tasks
            else checkpoints.latest_readable_in_dir(config.train_dir))
  # The record keeps --precision as given; the run uses the one chosen.
  record_settings = functools.partial(
      train_dir_lib.record_settings, config.train_dir, config,
      image_size=image_size, num_classes=num_classes,
      num_samples=dataset.num_samples)
  config = dataclasses.replace(config, precision=chosen)
  _log_the_run(config, dataset, num_classes, image_size, latest)
  if config.seed is not None:
    tf.set_random_seed(config.seed)
  deployment = model_deploy.DeploymentConfig(
      num_clones=config.num_clones, clone_on_cpu=config.clone_on_cpu,
      replica_id=config.task, num_replicas=config.worker_replicas,
      num_ps_tasks=config.num_ps_tasks)
  graph = train_graph.build(config, dataset, deployment,
                            network_fn=network_fn, image_size=image_size,
                            num_classes=num_classes)
  if latest and not config.num_ps_tasks:
    # Before the session: TensorFlow's restore error names no variable.
    checkpoints.check_fits(latest, {v.op.name: v for v in
                                    tf.global_variables()},
                           resuming_in=config.train_dir)
  try:
    step = train_session.run(config, graph, latest, started,
                             on_first_save=record_settings)
  except tf.errors.OpError as e:
    _raise_if_kernel_error(e, chosen)
    raise
  if graph.skipped is not None:
    log.info('%s', graph.skipped.summary())
  return step


def _log_the_run(config, dataset, num_classes, image_size, latest):
  """Logs what is trained on what, and the notes and warnings that go with
  the settings."""
  log.info(
      'Training %s on %s/%s (%d examples, %d classes) at %d px: batch %d, '
      '%s steps, %s, %s in %s', config.model_name, config.dataset_name,
      config.dataset_split_name, dataset.num_samples, num_classes,
      image_size, config.batch_size, config.max_number_of_steps or 'unlimited',
      config.precision,
      'resuming' if latest else (
          'fine-tuning' if config.checkpoint_path else 'from scratch'),
      config.train_dir)
  _note_clones_on_the_cpu(config)
  if not latest and not config.checkpoint_path:
    _warn_if_batch_norm_lags(config)


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


def _raise_if_kernel_error(error, precision):
  """Raises a UserError naming the node, its device and the precision when
  `error` is a graph node without a kernel (not a data error)."""
  line = errors.describe_kernel_error(error)
  if line is not None:
    raise UserError('%s (the run is in %s%s)' % (
        line, precision, '' if precision == 'fp32' else
        '; --precision=fp32 runs it without the reduced-precision rewrite'))


def _raise_out_of_space(error, train_dir):
  """Raises the one-line UserError of a full disk, naming the checkpoints
  that hold. Saves go to temporary names, so the checkpoints written are
  whole; the cut one's temporary files, removed here, only take space."""
  train_dir_lib.remove_partial_saves(train_dir)
  latest = checkpoints.latest_in_dir(train_dir)
  raise UserError('%s; --train_dir %s keeps %s' % (
      errors.describe_out_of_space(error), train_dir,
      'its checkpoints up to %s: free some space and run the same command '
      'to resume from it' % os.path.basename(latest)
      if latest else 'no checkpoint'))
