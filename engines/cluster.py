"""Cluster set-up for parameter-server training on TensorFlow's runtime.

The cluster comes from --ps_hosts/--worker_hosts/--job_name/--task or from
the standard TF_CONFIG environment variable that cluster launchers (Kubeflow,
Vertex AI, ...) set:

  {"cluster": {"ps": ["h1:2222"], "worker": ["h2:2222", "h3:2222"]},
   "task": {"type": "worker", "index": 0}}

A "chief" job, where given, becomes worker 0 (the chief writes checkpoints
and summaries) and the "worker" tasks follow it.
"""

import collections
import json
import os

import tensorflow.compat.v1 as tf

from slimvision.core.errors import UserError

Cluster = collections.namedtuple('Cluster', ['spec', 'job_name', 'task'])


def _hosts(text):
  return [h.strip() for h in (text or '').split(',') if h.strip()]


def resolve(ps_hosts='', worker_hosts='', job_name='', task=0,
            tf_config=None):
  """The cluster this process belongs to, or None for a local run.

  Args:
    ps_hosts, worker_hosts: comma-separated host:port lists.
    job_name: 'ps' or 'worker' (with the host lists).
    task: index of this process in its job.
    tf_config: the TF_CONFIG JSON text (default: the environment's).

  Returns:
    Cluster(spec dict {'ps': [...], 'worker': [...]}, job_name, task) or
    None.

  Raises:
    UserError: inconsistent or malformed settings.
  """
  if tf_config is None:
    tf_config = os.environ.get('TF_CONFIG', '')
  if ps_hosts or worker_hosts:
    ps, workers = _hosts(ps_hosts), _hosts(worker_hosts)
    if job_name not in ('ps', 'worker'):
      raise UserError('--job_name must be ps or worker with --ps_hosts/'
                      '--worker_hosts, got %r' % job_name)
  elif tf_config.strip():
    try:
      config = json.loads(tf_config)
      cluster = config['cluster']
      job_name = config['task']['type']
      task = int(config['task'].get('index', 0))
    except (ValueError, KeyError, TypeError) as e:
      raise UserError('TF_CONFIG is not valid: %s (expected {"cluster": '
                      '{...}, "task": {"type": ..., "index": ...}})' % e)
    ps = list(cluster.get('ps', []))
    chief = list(cluster.get('chief', []))
    workers = chief + list(cluster.get('worker', []))
    if job_name == 'chief':
      job_name, task = 'worker', 0
    elif job_name == 'worker':
      task += len(chief)
    elif job_name == 'evaluator':
      raise UserError('TF_CONFIG task type "evaluator": run '
                      'eval_image_classifier.py in its loop mode instead')
    elif job_name != 'ps':
      raise UserError('TF_CONFIG task type %r; valid: chief, worker, ps' %
                      job_name)
  else:
    return None
  if not workers:
    raise UserError('The cluster has no worker hosts')
  if not ps:
    raise UserError('The cluster has no ps hosts; parameter-server training '
                    'needs at least one')
  jobs = {'ps': ps, 'worker': workers}
  if not 0 <= task < len(jobs[job_name]):
    raise UserError('Task %d out of range: job %s has %d host(s)' %
                    (task, job_name, len(jobs[job_name])))
  return Cluster(jobs, job_name, task)


def start_server(cluster):
  """Starts this process's tf.distribute.Server; returns it."""
  return tf.distribute.Server(tf.train.ClusterSpec(cluster.spec),
                              job_name=cluster.job_name,
                              task_index=cluster.task, start=True)


class WorkerSessionCreator(tf.train.SessionCreator):
  """A non-chief worker's session, once the chief has initialised the model.

  tf.train.WorkerSessionCreator polls for the chief's initialisation only
  every 30 seconds; this one polls every `poll_secs`, so a worker that starts
  before the chief joins the training within a second of it.
  """

  def __init__(self, scaffold, master, config, poll_secs=1.0,
               max_wait_secs=30 * 60, log=None):
    self._scaffold = scaffold
    self._master = master
    self._config = config
    self._poll_secs = poll_secs
    self._max_wait_secs = max_wait_secs
    self._log = log

  def create_session(self):
    self._scaffold.finalize()
    manager = tf.train.SessionManager(
        local_init_op=self._scaffold.local_init_op,
        local_init_feed_dict=self._scaffold.local_init_feed_dict,
        ready_op=self._scaffold.ready_op,
        ready_for_local_init_op=self._scaffold.ready_for_local_init_op,
        graph=tf.get_default_graph(), recovery_wait_secs=self._poll_secs)
    if self._log:
      self._log('Waiting for the chief (worker 0) to initialise the model')
    return manager.wait_for_session(self._master, config=self._config,
                                    max_wait_secs=self._max_wait_secs)
