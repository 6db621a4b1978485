"""The training graph: input batches, clones, losses, summaries, the train op.

`build(config, dataset, deployment)` builds, in the default graph, what
TF-Slim's train_image_classifier.py builds: the input pipeline on the
deployment's input device, the clones of the network with their losses
(deployment/model_deploy), moving averages of the weights, the schedule
and optimizer (engines/optimization), sync replicas, and the train op that
sums the clones' gradients. It returns them as a `TrainGraph`.
"""

import collections

import tensorflow.compat.v1 as tf
import tf_slim as slim

from slimvision.core import log
from slimvision.core import summaries as summary_lib
from slimvision.deployment import model_deploy
from slimvision.engines import fine_tuning
from slimvision.engines import optimization
from slimvision.engines import pipeline
from slimvision.engines import precision as precision_lib
from slimvision.engines import quantization
from slimvision.nets import nets_factory
from slimvision.preprocessing import preprocessing_factory

_AUX_LOSS_WEIGHT = 0.4

TrainGraph = collections.namedtuple('TrainGraph', [
    'train_op',     # Runs one step; its value is the total loss.
    'total_loss',   # The clones' losses plus regularization.
    'summary_op',   # Every training summary, merged.
    'optimizer',    # The (sync replicas) optimizer, for its session hooks.
    'global_step',
    'skipped',      # pipeline.SkippedRecords, or None.
])


def network_and_image_size(config, num_classes):
  """(network_fn, image size) of the training network of `config`."""
  network_fn = nets_factory.get_network_fn(
      config.model_name, num_classes=num_classes,
      weight_decay=config.weight_decay, is_training=True,
      batch_norm_decay=config.batch_norm_decay)
  return network_fn, config.train_image_size or network_fn.default_image_size


def build(config, dataset, deployment, *, network_fn, image_size,
          num_classes):
  """Builds the training graph in the default graph; returns a TrainGraph.

  Args:
    config: the TrainConfig, its precision already chosen (not 'auto').
    dataset: the slim Dataset of the training split.
    deployment: the model_deploy.DeploymentConfig.
    network_fn, image_size: the network and its input side
      (`network_and_image_size`).
    num_classes: the network's outputs (after --labels_offset).
  """
  with tf.device(deployment.variables_device()):
    global_step = tf.train.get_or_create_global_step()
  iterator, skipped = _input_batches(config, dataset, deployment, image_size)
  clone_fn = _clone_fn(iterator, network_fn, num_classes,
                       config.label_smoothing)
  with nets_factory.image_too_small_names_flag('--train_image_size'):
    clones = model_deploy.create_clones(deployment, clone_fn)
  if config.quantize_delay >= 0:
    # As research/slim: on the clones, before the gradients are added.
    quantization.create_training_graph(tf.get_default_graph(),
                                       config.quantize_delay)
  first_clone_scope = deployment.clone_scope(0)
  end_points, images = clones[0].outputs
  update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS, first_clone_scope)
  if config.freeze_batch_norm_statistics:
    update_ops = fine_tuning.update_ops_in_scopes(
        update_ops, config.trainable_scopes, first_clone_scope)
  summaries = _add_summaries(end_points, images)
  optimizer, rate = _optimizer(config, dataset.num_samples, deployment,
                               global_step, update_ops)
  summaries.add(summary_lib.scalar('learning_rate', rate))
  # train_op adds TF-Slim's Losses/clone_loss and Losses/regularization_loss.
  before = set(tf.get_collection(tf.GraphKeys.SUMMARIES))
  train_op, total_loss = model_deploy.train_op(
      clones, optimizer, global_step,
      var_list=fine_tuning.variables_to_train(config.trainable_scopes),
      update_ops=update_ops)
  summaries.add(summary_lib.scalar('total_loss', total_loss))
  if config.sync_replicas:
    _quiet_chief_queue_runner(optimizer)
  summaries |= set(tf.get_collection(tf.GraphKeys.SUMMARIES)) - before
  summaries |= set(tf.get_collection(tf.GraphKeys.SUMMARIES,
                                     first_clone_scope))
  return TrainGraph(train_op, total_loss, tf.summary.merge(list(summaries)),
                    optimizer, global_step, skipped)


def _input_batches(config, dataset, deployment, image_size):
  """(an iterator of (images, labels) batches of one clone, the
  SkippedRecords with --skip_corrupt_records or None)."""
  preprocessing_fn = preprocessing_factory.get_preprocessing(
      config.preprocessing, is_training=True,
      use_grayscale=config.use_grayscale)
  augmentation = config.augmentation()

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
        input_threads=config.input_threads,
        labels_offset=config.labels_offset, seed=config.seed,
        skipped=skipped,
        encoded_images=pipeline.use_encoded_images(
            config.jpeg_decode, preprocessing_fn, dataset),
        cache_images=_fits_image_cache(config, dataset))
    return tf.data.make_one_shot_iterator(batches), skipped


def _clone_fn(iterator, network_fn, num_classes, label_smoothing):
  """The model_deploy clone function: a batch through the network, and its
  softmax cross-entropy losses (the auxiliary head's at 0.4, as TF-Slim);
  returns (end_points, images)."""

  def clone_fn():
    images, labels = iterator.get_next()
    logits, end_points = network_fn(images)
    onehot = tf.one_hot(labels, depth=num_classes)
    if 'AuxLogits' in end_points:
      tf.losses.softmax_cross_entropy(
          onehot, end_points['AuxLogits'], label_smoothing=label_smoothing,
          weights=_AUX_LOSS_WEIGHT, scope='aux_loss')
    tf.losses.softmax_cross_entropy(onehot, logits,
                                    label_smoothing=label_smoothing,
                                    weights=1.0)
    return end_points, images

  return clone_fn


def _optimizer(config, num_samples, deployment, global_step, update_ops):
  """(the optimizer of `config`, the learning rate). Moving averages of the
  weights join `update_ops`, or, under --sync_replicas, the optimizer."""
  averages, averaged = None, None
  if config.moving_average_decay:
    averaged = slim.get_model_variables()
    averages = tf.train.ExponentialMovingAverage(config.moving_average_decay,
                                                 global_step)
  with tf.device(deployment.optimizer_device()):
    rate = optimization.learning_rate_for(config, global_step, num_samples)
    optimizer = precision_lib.wrap_optimizer(
        config.precision, optimization.optimizer(config, rate))
  if config.sync_replicas:
    optimizer = tf.train.SyncReplicasOptimizer(
        optimizer, replicas_to_aggregate=config.replicas_to_aggregate,
        total_num_replicas=config.worker_replicas,
        variable_averages=averages, variables_to_average=averaged)
  elif averages is not None:
    update_ops.append(averages.apply(averaged))
  return optimizer, rate


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


def _fits_image_cache(config, dataset):
  """Whether to keep the decoded training images in memory: the split's
  estimated size fits in --image_cache_mb, by default a quarter of the
  memory available now (logged either way)."""
  if config.image_cache_mb == 0:
    return False
  budget_mib, budget = _image_cache_budget(config)
  if budget_mib is None:
    return False
  size = pipeline.decoded_size_bytes(dataset)
  if size is None:
    log.warning('Not caching the decoded images (--image_cache_mb): their '
                'size cannot be estimated (a first record is unreadable or '
                'its image is not one Pillow reads)')
    return False
  mib = size / 2.0**20
  if mib > budget_mib:
    # A warning where the budget was asked for; by default only a note.
    say = log.info if config.image_cache_mb is None else log.warning
    say('Not caching the decoded images: the %d images of %s/%s take about '
        '%.0f MiB decoded, more than %s', dataset.num_samples,
        config.dataset_name, config.dataset_split_name, mib, budget)
    return False
  log.info('Caching the decoded images in memory: about %.0f MiB of %s; '
           'the first epoch reads them in file order', mib, budget)
  return True


def _image_cache_budget(config):
  """(MiB the decoded-image cache may take, which says where they come
  from); (None, None) when the default cannot learn the memory."""
  if config.image_cache_mb is not None:
    return config.image_cache_mb, '--image_cache_mb=%d' % config.image_cache_mb
  available = pipeline.available_memory_bytes()
  if available is None:
    log.info('Not caching the decoded images: the available memory is '
             'unknown here; --image_cache_mb sets a budget')
    return None, None
  mib = available / 4 / 2.0**20
  return mib, ('a quarter of the %.0f MiB available (--image_cache_mb sets '
               'the budget, 0 turns the cache off)' % (4 * mib))
