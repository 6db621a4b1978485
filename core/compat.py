"""Makes tf-slim 1.1.0 work on current TensorFlow (2.16 and newer).

tf-slim 1.1.0 is the last release on PyPI and reaches into TensorFlow
internals that have since moved. This module puts each moved name back where
tf-slim looks for it. ``apply()`` must run before tf-slim's functions are
called. It is an explicit, idempotent call: the model packages'
``__init__`` make it (so importing any of them is enough for library
users); the package root and the command-line layer do not, so that a
command starts without loading TensorFlow.

Every repair is guarded: where TensorFlow still provides a name, nothing is
touched, so the module is a no-op on the TensorFlow versions tf-slim was
written for. ``applied_repairs()`` lists what was changed in this process.

Repairs (TensorFlow 2.21):
  * ``tf_keras.legacy_tf_layers``: ``tf.compat.v1.layers.BatchNormalization``
    (used by ``slim.batch_norm``) lazily imports this module, which tf_keras
    now ships as ``tf_keras.src.legacy_tf_layers``.
  * ``control_flow_ops.case/cond/while_loop/Assert``: moved to their own
    modules; ``tfexample_decoder.Image`` and the streaming metrics use them.
  * ``ops.Tensor``: became ``tensorflow.python.framework.tensor.Tensor``;
    the non-fused ``batch_norm`` path, ``slim.learning`` gradient multipliers
    and ``optimize_loss`` test ``isinstance(x, ops.Tensor)``.
  * ``ops.IndexedSlices``: moved to ``framework.indexed_slices``; used by
    gradient clipping and multipliers in ``slim.learning`` / ``training``.
  * ``array_ops.stack/unstack``: moved to ``ops.array_ops_stack``; used by
    the streaming metrics (``streaming_recall_at_k`` and others), the sparse
    paths of ``tfexample_decoder`` and ``layers``.
  * ``variable_scope.variable``: removed; ``slim.local_variable`` and
    ``slim.global_variable`` (hence the streaming metrics) call it. It was
    the v1 ``Variable`` constructor, which lives on as ``VariableV1``.
  * Speed: the legacy layers' ``add_weight`` hashes every variable of the
    graph for each new weight, and TF2's tensor equality makes each hash
    walk the context stack: graph building grew with the square of the
    variables. In graph mode the call gets TF1's id hashing, which gives
    the same answers there (see ``_linear_add_weight``).
  * Speed: each new Keras layer re-sets the ``__bases__`` of its class and
    of each base class to the ones they already have (``swap_class``), and
    each such assignment makes Python recompute their method orders. A
    class is now swapped once per mode (see ``_swap_class_once``).

Graph mode: tf-slim is TF1 code. The engines build and run their graphs
inside ``tf.Graph().as_default()``, which is graph mode whatever the
process-wide switch says, so ``apply()`` leaves eager execution alone: a
program that imports slimvision keeps TF2's eager mode for its own code.
Code that drives tf-slim's own loops (``slim.learning.train``,
``slim.evaluation``, which run sessions from Supervisor threads) should call
``tf.compat.v1.disable_eager_execution()`` first, as on any TF2.

tf-slim's own test suite (shipped inside its wheel) was run against this
layer to find these; its remaining failures are in the tests themselves
(NumPy 2 removals such as ``np.object`` and ``ndarray.tostring``).
"""

import functools
import importlib
import sys

from tensorflow.python.framework import ops
from tensorflow.python.framework import tensor as tensor_lib
from tensorflow.python.ops import array_ops
from tensorflow.python.ops import control_flow_ops
from tensorflow.python.ops import variable_scope

_APPLIED = []


def _alias_module(old_name, new_name):
  """Makes `import old_name` (and its submodules) resolve to `new_name`."""
  try:
    importlib.import_module(old_name)
    return
  except ImportError:
    pass
  try:
    new_module = importlib.import_module(new_name)
  except ImportError:
    return  # Neither exists: nothing we can repair (tf_keras not installed).
  sys.modules[old_name] = new_module
  parent_name, _, child = old_name.rpartition('.')
  setattr(importlib.import_module(parent_name), child, new_module)
  for submodule in ('base', 'convolutional', 'core', 'normalization',
                    'pooling'):
    try:
      sys.modules[old_name + '.' + submodule] = importlib.import_module(
          new_name + '.' + submodule)
    except ImportError:
      pass
  _APPLIED.append('%s -> %s' % (old_name, new_name))


def _restore_attribute(module, name, new_module_name, new_name=None):
  """Sets `module.name` from `new_module_name.new_name` if it is missing."""
  if hasattr(module, name):
    return
  source = importlib.import_module(new_module_name)
  setattr(module, name, getattr(source, new_name or name))
  _APPLIED.append('%s.%s -> %s.%s' % (module.__name__, name, new_module_name,
                                      new_name or name))


def _linear_add_weight(module_name):
  """Gives the legacy layers' add_weight TF1's cheap variable hashing.

  The legacy layers behind every tf-slim layer with weights build
  `set(global_variables())` in each add_weight: one hash per variable of
  the graph, for each new weight. TF1 hashed a variable by id; with TF2's
  tensor equality each hash first asks whether it runs eagerly, a walk of
  the context stack, which made building NASNet-Mobile 2.3x slower (38 s
  against 17 s on 2 cores) and grows with the square of the variables. In
  a TF1 graph both answers are the same (id hashing, identity equality), so
  inside add_weight in graph mode equality is switched to TF1's for the
  call. Eager code and tf.functions are left as they are.
  """
  try:
    layer_class = importlib.import_module(module_name).Layer
  except ImportError:
    return
  original = layer_class.add_weight
  if getattr(original, 'slimvision_linear', False):
    return

  @functools.wraps(original)
  def add_weight(*args, **kwargs):
    if (not tensor_lib.Tensor._USE_EQUALITY or  # pylint: disable=protected-access
        ops.executing_eagerly_outside_functions()):
      return original(*args, **kwargs)
    tensor_lib.Tensor._USE_EQUALITY = False  # pylint: disable=protected-access
    try:
      return original(*args, **kwargs)
    finally:
      tensor_lib.Tensor._USE_EQUALITY = True  # pylint: disable=protected-access

  add_weight.slimvision_linear = True
  layer_class.add_weight = add_weight
  _APPLIED.append('%s.Layer.add_weight: TF1 variable hashing in graph mode'
                  % module_name)


def _swap_class_once(module_name):
  """Makes Keras's version_utils.swap_class skip the classes it has
  already swapped to the same mode.

  Every Keras layer's __new__ calls swap_class(cls, v2_cls, v1_cls, use_v2),
  which walks the class's bases and assigns each class's __bases__, to the
  v1 or v2 base layer as use_v2 says, even when they are already so. An
  assignment to __bases__ makes Python recompute the method resolution
  order of the class and its subclasses: 2 ms of each layer built, 6-8% of
  building resnet_v1_200 or NASNet. The result of a call depends only on
  its arguments and on the bases, which only swap_class changes; so within
  one mode (use_v2) a call repeated returns the first call's result, and a
  call in the other mode forgets every result (and swaps as before).
  """
  try:
    module = importlib.import_module(module_name)
  except ImportError:
    return
  original = getattr(module, 'swap_class', None)
  if original is None or getattr(original, 'slimvision_once', False):
    return
  swapped = {}  # (cls, v2_cls, v1_cls) -> result, all in mode last_mode[0]
  last_mode = [None]

  @functools.wraps(original)
  def swap_class(cls, v2_cls, v1_cls, use_v2):
    if last_mode[0] != use_v2:
      swapped.clear()
      last_mode[0] = use_v2
    key = (cls, v2_cls, v1_cls)
    if key not in swapped:
      swapped[key] = original(cls, v2_cls, v1_cls, use_v2)
    return swapped[key]

  swap_class.slimvision_once = True
  module.swap_class = swap_class
  _APPLIED.append('%s.swap_class: once per class and mode' % module_name)


_DONE = []


def apply():
  """Makes every repair that is missing; a no-op after the first call."""
  if _DONE:
    return
  _DONE.append(True)
  _alias_module('tf_keras.legacy_tf_layers', 'tf_keras.src.legacy_tf_layers')
  _restore_attribute(control_flow_ops, 'case',
                     'tensorflow.python.ops.control_flow_case')
  _restore_attribute(control_flow_ops, 'cond', 'tensorflow.python.ops.cond')
  _restore_attribute(control_flow_ops, 'while_loop',
                     'tensorflow.python.ops.while_loop')
  _restore_attribute(control_flow_ops, 'Assert',
                     'tensorflow.python.ops.control_flow_assert')
  _restore_attribute(ops, 'Tensor', 'tensorflow.python.framework.tensor')
  _restore_attribute(ops, 'IndexedSlices',
                     'tensorflow.python.framework.indexed_slices')
  _restore_attribute(array_ops, 'stack', 'tensorflow.python.ops.array_ops_stack')
  _restore_attribute(array_ops, 'unstack',
                     'tensorflow.python.ops.array_ops_stack')
  _restore_attribute(variable_scope, 'variable',
                     'tensorflow.python.ops.variable_v1', 'VariableV1')
  _linear_add_weight('tf_keras.src.legacy_tf_layers.base')
  _linear_add_weight('tensorflow.python.keras.legacy_tf_layers.base')
  _swap_class_once('tf_keras.src.utils.version_utils')
  _swap_class_once('tensorflow.python.keras.utils.version_utils')


def applied_repairs():
  """Returns the list of repairs made in this process."""
  return list(_APPLIED)
