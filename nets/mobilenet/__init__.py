"""MobileNet v2 / v3 as research/slim's nets/mobilenet/ package.

Modules, at research/slim's paths and with its names:
  * `mobilenet`: the generic builder of a network from `conv_defs`
    (`{'defaults': ..., 'spec': [op(...), ...]}`), `training_scope`.
  * `conv_blocks`: `expanded_conv` (the inverted residual), `split_conv`,
    `squeeze_excite`, `expand_input_by_factor`, ...
  * `mobilenet_v2`, `mobilenet_v3`: their `conv_defs` (V2_DEF, V3_LARGE, ...)
    and network functions.

The layer lists themselves are written once, in nets/mobilenet_v2.py and
nets/mobilenet_v3.py (the `mobilenet_blocks.NetworkDef`s the model registry
builds); `blocks_conv_defs` turns them into research/slim's conv_defs.
"""
