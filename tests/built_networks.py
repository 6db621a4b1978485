"""Network graphs built once per test process and shared between tests.

Building a large network takes tens of seconds on 2 CPU cores, so tests that
check the same build (the same network and options) read it from here
instead of building it again. Each build gets its own graph, which is then
finalized: a test that tried to add ops to a shared graph would change what
the others see, so it fails instead.
"""

import collections
import functools
import inspect

import tensorflow.compat.v1 as tf

# graph: the finalized tf.Graph; images: the input placeholder (or None);
# output, end_points: what the network function returned; init: the op
# that initializes every global variable (ops cannot be added later).
Built = collections.namedtuple(
    'Built', 'graph images output end_points init')


def build_in_new_graph(build, seed=1):
  """Runs `build()` in a new graph with the graph-level seed `seed`.

  Args:
    build: a callable that builds into the default graph and returns
      (images, output, end_points).
    seed: the graph-level random seed, for tests that run the network.

  Returns:
    Built, with the graph finalized.
  """
  graph = tf.Graph()
  with graph.as_default():
    tf.set_random_seed(seed)
    images, output, end_points = build()
    init = tf.global_variables_initializer()
  graph.finalize()
  return Built(graph, images, output, end_points, init)


def shared(build_fn):
  """Decorator: builds each distinct set of arguments once per process.

  `build_fn(*args, **kwargs)` builds into the default graph and returns
  (images, output, end_points); the decorated function returns the Built of
  a new graph, the same one for equal (hashable) arguments. Defaults count
  as given: f() and f(x=<x's default>) share a build.
  """
  signature = inspect.signature(build_fn)
  cache = {}

  @functools.wraps(build_fn)
  def cached(*args, **kwargs):
    bound = signature.bind(*args, **kwargs)
    bound.apply_defaults()
    key = (bound.args, tuple(sorted(bound.kwargs.items())))
    if key not in cache:
      cache[key] = build_in_new_graph(
          lambda: build_fn(*bound.args, **bound.kwargs))
    return cache[key]
  return cached


def variable_names(built, prefix=''):
  """Names of the global variables of `built` that start with `prefix`."""
  with built.graph.as_default():
    return [v.op.name for v in tf.global_variables()
            if v.op.name.startswith(prefix)]


def arithmetic_only_config():
  """A session config with Grappler's rewrites off.

  Its rewrites of a large graph take longer than running it a few times
  (NASNet-CIFAR's training step: 4.4 CPU-seconds at the first run against
  1.1 without them); what the network tests check is the network's own
  arithmetic.
  """
  config = tf.ConfigProto()
  config.graph_options.rewrite_options.disable_meta_optimizer = True
  return config


def session(built):
  """A tf.Session on the shared graph, with its variables initialized
  (and Grappler off: see arithmetic_only_config)."""
  sess = tf.Session(graph=built.graph, config=arithmetic_only_config())
  sess.run(built.init)
  return sess
