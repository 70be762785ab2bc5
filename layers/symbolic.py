"""Symbolic calls (functional models) that return every output an eager call returns."""

import keras


class TracedOutputSpec:
    """Mixin for layers whose outputs depend on call arguments (`return_attention_scores`, a cache).

    Keras' `Layer.compute_output_spec` builds a symbolic call's output from
    `compute_output_shape`, which sees the input shapes only: a functional model
    asking for `return_attention_scores=True` would get one tensor where `call`
    returns a tuple. This spec is traced from `call` itself, so it is what `call`
    returns; `compute_output_shape` stays for the plain output.
    """

    def compute_output_spec(self, *args, **kwargs):
        return keras.Operation.compute_output_spec(self, *args, **kwargs)
