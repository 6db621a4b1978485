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
import socket
import time

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


# The end-of-training handshake: each worker puts its task index on a queue
# that lives on every ps task, and a ps task exits once the chief (and every
# other worker, or a grace period after the chief) has reported.
_DONE_QUEUE_CAPACITY = 1024


def _done_queue(ps_task):
  with tf.device('/job:ps/task:%d' % ps_task):
    return tf.FIFOQueue(_DONE_QUEUE_CAPACITY, [tf.int32], shapes=[[]],
                        shared_name='slimvision_training_done_%d' % ps_task,
                        name='training_done_%d' % ps_task)


# How often a waiting ps task looks for its workers.
_PROBE_EVERY_SECS = 5.0


def worker_answers(host_port, timeout_secs=2.0):
  """Whether a task's server accepts connections at `host_port`: a dead
  task's port is closed, and a lost machine's does not answer."""
  host, _, port = host_port.rpartition(':')
  try:
    with socket.create_connection((host.strip('[]'), int(port)),
                                  timeout=timeout_secs):
      return True
  except (OSError, ValueError):
    return False


class WorkerWatch(object):
  """Ends a ps task's wait when no worker has answered for `timeout_secs`
  (0: never): the workers died, or never started, and nobody will report
  the end of training. Counts from the start of the wait."""

  def __init__(self, workers, timeout_secs, probe=worker_answers):
    self._workers = workers
    self._timeout_secs = timeout_secs
    self._probe = probe
    self._last_answer = time.time()
    self._next_probe = 0.0

  def check(self, ps_task):
    """Raises UserError once the workers have been silent too long."""
    now = time.time()
    if not self._timeout_secs or now < self._next_probe:
      return
    self._next_probe = now + min(_PROBE_EVERY_SECS, self._timeout_secs / 2.0)
    if any(self._probe(worker) for worker in self._workers):
      self._last_answer = now
    elif now - self._last_answer >= self._timeout_secs:
      raise UserError(
          'No worker task has answered for %d s (%s: stopped, or never '
          'started), so training cannot end: parameter server %d exits '
          '(--ps_worker_timeout_secs)' % (
              now - self._last_answer, ', '.join(self._workers), ps_task))


def serve_until_done(server, cluster, log, grace_secs=60.0,
                     worker_watch=None):
  """Serves a ps task's variables until training has ended; returns.

  Blocks until the chief (worker 0) reports the end, then waits up to
  `grace_secs` for the other workers' reports, so that none loses the ps in
  its last step. A worker that died never reports: the grace period bounds
  the wait for it. `worker_watch` (a WorkerWatch) ends the wait for the
  chief, with a UserError, once no worker answers.
  """
  num_workers = len(cluster.spec['worker'])
  session_config = tf.ConfigProto(
      device_filters=['/job:ps/task:%d' % cluster.task])
  with tf.Graph().as_default():
    dequeue = _done_queue(cluster.task).dequeue()
    with tf.Session(server.target, config=session_config) as session:
      finished = set()
      # In slices of a second: a signal's Python handler (SIGTERM unwinds,
      # cli/app.py) runs only between them, not inside a blocked run.
      slice_options = tf.RunOptions(timeout_in_ms=1000)
      while 0 not in finished:
        try:
          finished.add(int(session.run(dequeue, options=slice_options)))
        except tf.errors.DeadlineExceededError:
          if worker_watch is not None:
            worker_watch.check(cluster.task)
      deadline = time.time() + grace_secs
      while len(finished) < num_workers:
        wait_ms = int(1000 * (deadline - time.time()))
        if wait_ms <= 0:
          break
        try:
          finished.add(int(session.run(
              dequeue, options=tf.RunOptions(timeout_in_ms=wait_ms))))
        except tf.errors.DeadlineExceededError:
          break
  missing = sorted(set(range(num_workers)) - finished)
  if missing:
    log('Training has ended; worker(s) %s did not report within %d s. '
        'Parameter server %d exits.', ', '.join(map(str, missing)),
        grace_secs, cluster.task)
  else:
    log('Training has ended; parameter server %d exits.', cluster.task)


def report_done(master, num_ps_tasks, task, session_config, log,
                timeout_secs=10.0):
  """Tells every ps task that worker `task` has finished training."""
  with tf.Graph().as_default():
    enqueues = [_done_queue(i).enqueue(task) for i in range(num_ps_tasks)]
    try:
      with tf.Session(master, config=session_config) as session:
        session.run(enqueues, options=tf.RunOptions(
            timeout_in_ms=int(timeout_secs * 1000)))
    except (tf.errors.UnavailableError, tf.errors.DeadlineExceededError,
            tf.errors.AbortedError, tf.errors.CancelledError) as e:
      # The ps tasks may have exited already (they wait for the chief and a
      # grace period); training itself is complete.
      log('Could not tell the parameter servers that worker %d finished '
          '(%s); they may have exited already.', task,
          str(e).splitlines()[0] if str(e) else type(e).__name__)


def _session_manager(scaffold, poll_secs):
  return tf.train.SessionManager(
      local_init_op=scaffold.local_init_op,
      local_init_feed_dict=scaffold.local_init_feed_dict,
      ready_op=scaffold.ready_op,
      ready_for_local_init_op=scaffold.ready_for_local_init_op,
      graph=tf.get_default_graph(), recovery_wait_secs=poll_secs)


class ChiefSessionCreator(tf.train.ChiefSessionCreator):
  """The chief's session; joins a live cluster instead of rewinding it.

  tf.train.ChiefSessionCreator restores the latest checkpoint whenever it
  creates a session. When a chief restarts while other workers train on,
  the ps tasks hold newer variables than any checkpoint, and restoring
  would move the global step back. So when the ps tasks already hold an
  initialised model, this creator joins at that state, as a worker does.
  """

  def __init__(self, scaffold, master, config, checkpoint_dir, global_step,
               log):
    super().__init__(scaffold=scaffold, master=master, config=config,
                     checkpoint_dir=checkpoint_dir)
    self._scaffold_ = scaffold
    self._master_ = master
    self._config_ = config
    self._global_step = global_step
    self._log = log

  def _live_step(self):
    """The global step the ps tasks hold, or None when they hold no model."""
    # Only the global variables: they live on the ps tasks. A restarted
    # chief's own local variables are always new.
    with tf.Session(self._master_, config=self._config_) as probe:
      if probe.run(self._scaffold_.ready_for_local_init_op).size:
        return None
      return int(probe.run(self._global_step))

  def create_session(self):
    self._scaffold_.finalize()
    step = self._live_step()
    if step is None:
      return super().create_session()
    self._log('The parameter servers already hold the model at global step '
              '%d (other workers trained on): joining at that state, not '
              'restoring a checkpoint', step)
    return _session_manager(self._scaffold_, 1.0).wait_for_session(
        self._master_, config=self._config_, max_wait_secs=60)


class ReconnectLogger(tf.train.SessionCreator):
  """Wraps a session creator to log losing and regaining the cluster.

  MonitoredSession creates a new session when a run fails because a ps or
  worker went away, and retries quietly until it succeeds; this says so.
  """

  def __init__(self, creator, log):
    self._creator = creator
    self._log = log
    self._sessions = 0
    self._reconnecting = False

  def create_session(self):
    if self._sessions and not self._reconnecting:
      self._reconnecting = True
      self._log('Lost the connection to a parameter server or worker; '
                'reconnecting (the run waits until it is back)')
    session = self._creator.create_session()
    if self._reconnecting:
      self._log('Reconnected to the cluster; training goes on')
      self._reconnecting = False
    self._sessions += 1
    return session


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
    manager = _session_manager(self._scaffold, self._poll_secs)
    if self._log:
      self._log('Waiting for the chief (worker 0) to initialise the model')
    return manager.wait_for_session(self._master, config=self._config,
                                    max_wait_secs=self._max_wait_secs)
