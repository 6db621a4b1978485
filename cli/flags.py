"""Every command-line flag of the scripts, each defined once.

A command's flags are the fields of its config class (engines/config.py):
the field's name is the flag's name, its type the flag's type, its default
the flag's default for that command, and its metadata the flag's help (and
an enum flag's choices, a flag's alias), written beside the field. This
module defines a command's flags into a `FlagValues` and builds the config
back from the parsed values.
"""

import typing

from absl import flags
from absl import logging as absl_logging  # Defines absl's logging flags.

from slimvision.engines import config as config_lib

_DEFINERS = {str: flags.DEFINE_string, int: flags.DEFINE_integer,
             float: flags.DEFINE_float, bool: flags.DEFINE_bool}


def _base_type(annotation):
  """str for Optional[str], etc."""
  args = [a for a in typing.get_args(annotation) if a is not type(None)]
  return args[0] if args else annotation


def define(config_class, flag_values, keep_defined=False):
  """Defines the flags of `config_class` into `flag_values`; returns their
  names in definition order. `keep_defined`: skip the names (and aliases)
  `flag_values` already has, instead of failing on them."""
  names = []
  for field in config_lib.flag_fields(config_class):
    if keep_defined and field.name in flag_values:
      continue
    help_text = field.metadata['help']
    if 'choices' in field.metadata:
      flags.DEFINE_enum(field.name, field.default, field.metadata['choices'],
                        help_text, flag_values=flag_values)
    else:
      _DEFINERS[_base_type(field.type)](field.name, field.default, help_text,
                                        flag_values=flag_values)
    if 'alias' in field.metadata and not (
        keep_defined and field.metadata['alias'] in flag_values):
      flags.DEFINE_alias(field.metadata['alias'], field.name,
                         flag_values=flag_values)
    names.append(field.name)
  return names


def accept_absl_logging_flags(flag_values):
  """Lets `flag_values` parse absl's logging flags (--logtostderr,
  --alsologtostderr, --log_dir, -v/--verbosity, ...), which research/slim's
  command lines pass (its README: `eval_image_classifier.py
  --alsologtostderr`). They are the very flags of absl's global FLAGS, so
  they act as under tf.app.run; --help does not list them."""
  for flag in flags.FLAGS.get_flags_for_module(absl_logging):
    for name in (flag.name, flag.short_name):
      if name and name not in flag_values:
        flag_values[name] = flag


def expand_bare_values(argv, config_class):
  """argv with each bare `--name` / `--noname` of an enum flag that was a
  boolean once (its field's `bare_value`) written with its value, so the
  enum parses it: `--tflite_quantize` is `--tflite_quantize=dynamic`."""
  bare = {f.name: f.metadata['bare_value']
          for f in config_lib.flag_fields(config_class)
          if 'bare_value' in f.metadata}
  expanded = []
  for arg in argv:
    for name, value in bare.items():
      if arg in ('--' + name, '-' + name):
        arg = '--%s=%s' % (name, value)
      elif arg in ('--no' + name, '-no' + name):
        arg = '--%s=none' % name
    expanded.append(arg)
  return expanded


def build(config_class, flag_values, only_set=False, **extra):
  """The config from parsed `flag_values` (plus non-flag fields `extra`).

  only_set: take only the flags that were set (parsed or assigned), and the
  config's own defaults for the rest: for absl's global FLAGS, where the
  flag's default may be another command's.
  """
  values = {f.name: flag_values[f.name].value
            for f in config_lib.flag_fields(config_class)
            if not only_set or _was_set(flag_values, f)}
  values.update(extra)
  return config_class(**values)


def _was_set(flag_values, field):
  """Whether the flag of `field`, or its alias, was parsed or assigned.
  (An alias sets its flag's value, but only its own mark of a set value.)"""
  names = [field.name] + ([field.metadata['alias']]
                          if 'alias' in field.metadata else [])
  return any(name in flag_values and
             not flag_values[name].using_default_value for name in names)
