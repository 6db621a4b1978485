"""Name registries that users can extend, with built-ins imported on use.

Each factory (datasets, nets, preprocessing) keeps one `Registry`: a
mutable mapping from a name to what that name stands for. Built-in entries
are given as `Lazy('module', 'attribute')` references and imported the
first time they are looked up, so asking for `lenet` does not import the
NASNet code. Users extend a registry the way TF-Slim's tutorials extend
research/slim's maps:

  dataset_factory.datasets_map['satellite'] = my_satellite_module

`lookup(name)` is `registry[name]` with a one-line UserError that lists the
valid names, which is what the scripts report for a wrong flag value.
"""

import collections.abc
import importlib

from slimvision.core.errors import UserError


class Lazy(object):
  """A reference to `module.attribute` (or the module itself), imported on
  first use."""

  def __init__(self, module, attribute=None):
    self.module = module
    self.attribute = attribute

  def resolve(self):
    module = importlib.import_module(self.module)
    return module if self.attribute is None else getattr(module,
                                                          self.attribute)

  def __repr__(self):
    return 'Lazy(%r%s)' % (self.module, ', %r' % self.attribute
                           if self.attribute else '')


class Registry(collections.abc.MutableMapping):
  """A mutable name -> object mapping whose `Lazy` values resolve on get."""

  def __init__(self, kind, entries=None):
    """Args:
      kind: what the names name, for error messages ('model name').
      entries: initial {name: object or Lazy}.
    """
    self.kind = kind
    self._entries = dict(entries or {})

  def __getitem__(self, name):
    value = self._entries[name]
    if isinstance(value, Lazy):
      value = self._entries[name] = value.resolve()
    return value

  def __setitem__(self, name, value):
    self._entries[name] = value

  def __delitem__(self, name):
    del self._entries[name]

  def __iter__(self):
    return iter(sorted(self._entries))

  def __len__(self):
    return len(self._entries)

  def __contains__(self, name):
    return name in self._entries

  def lookup(self, name):
    """registry[name], or a UserError naming the valid choices."""
    if name not in self._entries:
      raise UserError('Unknown %s %r; valid names: %s' %
                      (self.kind, name, ', '.join(self)))
    return self[name]

  def __repr__(self):
    return 'Registry(%r, %d entries)' % (self.kind, len(self))
