"""MobileNet v2 / v3 / EdgeTPU as research/slim's nets/mobilenet/ package.

Modules, at research/slim's paths and with its names:
  * `mobilenet`: the one builder of these networks, from `conv_defs`
    (`{'defaults': ..., 'spec': [op(...), ...]}`), and `training_scope`.
  * `conv_blocks`: `expanded_conv` (the inverted residual), `split_conv`,
    `squeeze_excite`, `expand_input_by_factor`, ...
  * `mobilenet_v2`, `mobilenet_v3`: their `conv_defs` (V2_DEF, V3_LARGE, ...)
    and network functions, which the model registry serves.
"""
