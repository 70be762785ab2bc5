"""Symbolic calls (functional models) that return every output an eager call returns."""

import keras


class TracedOutputSpec:
    """Mixin for layers whose outputs depend on call arguments (`return_attention_scores`, a cache).

    Keras' `Layer.compute_output_spec` builds a symbolic call's output from
    `compute_output_shape`, which sees the input shapes only: a functional model
    asking for `return_attention_scores=True` would get one tensor where `call`
    returns a tuple. This spec is traced from the layer's `__call__`, so it is what
    a call returns, dtypes included: `__call__` opens the autocast scope of a mixed
    policy (float32 weights read as float16 or bfloat16), which `call` alone does
    not. `compute_output_shape` stays for the plain output.
    """

    def compute_output_spec(self, *args, **kwargs):
        # `keras.Operation.compute_output_spec` traces `operation.call` on backend tensors; an operation of the
        # layer's class and name whose `call` is the layer's `__call__` keeps its error message about this layer.
        operation = type(type(self).__name__, (), {"call": staticmethod(self.__call__), "name": self.name})()
        return keras.Operation.compute_output_spec(operation, *args, **kwargs)
