"""Recurrent decoders with attention: Bahdanau (RNNsearch) and Luong (global attention).

Both decode one target token per step from the previous token's embedding, a
recurrent state and attention over the encoder output (the *memory*). The
per-step computation is `step()`, which token-by-token decoding calls directly;
`call()` runs it over a whole teacher-forced target sequence with `ops.scan`.
The memory's attention keys are projected once (`precompute_memory`), not at
every step.
"""

import keras
from keras import ops

from layers.additive import AdditiveAttention
from layers.dot_product import DotProductAttention
from layers.validation import check_positive_int

LUONG_SCORE_MODES = ("dot", "general", "concat")


class _AttentionDecoder(keras.layers.Layer):
    """Teacher-forced decoding over `step`, shared by the recurrent attention decoders.

    Subclasses create `self.attention` (a `SingleHeadAttention`) and implement
    `initial_state(memory, cell_states)`, `step(...)` and `output_dim(...)`.
    """

    # What the weights are, for `zoo.attention_maps`: each target step's weights over the memory, `(batch, T, S)`.
    attention_kinds = ("alignment",)

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        check_positive_int(units=units)
        self.units = units
        self.supports_masking = True

    def precompute_memory(self, memory):
        """The attention keys of `memory`, projected once per sentence (for `step`)."""
        return self.attention.project_key(memory)

    def _attend(self, query, memory, projected_memory, memory_mask):
        """Context `(batch, d_memory)` and weights `(batch, S)` for one query `(batch, d)`."""
        mask = None if memory_mask is None else ops.expand_dims(memory_mask, 1)
        context, weights = self.attention.attend_projected(
            ops.expand_dims(query, 1), memory, projected_memory, mask
        )
        return context[:, 0], weights[:, 0]

    def _zeros(self, memory):
        return ops.zeros((ops.shape(memory)[0], self.units), dtype=self.compute_dtype)

    def call(
        self,
        inputs,
        memory,
        *,
        inputs_mask=None,
        initial_state=None,
        memory_mask=None,
        return_state=False,
        return_attention_scores=False,
        training=None,
    ):
        projected_memory = self.precompute_memory(memory)
        batch, source_length = ops.shape(memory)[0], ops.shape(memory)[1]
        real = ops.ones_like(inputs[..., :1]) if inputs_mask is None else ops.cast(inputs_mask[..., None], inputs.dtype)

        # Keras' TensorFlow `scan` stacks outputs shaped like the carry, so the
        # step's outputs and weights ride in the carry and are read from the stack.
        # Its inputs are one tensor, the mask a last feature: it fails on several
        # inputs of unknown length.
        def one_step(carry, step_inputs):
            token_inputs, real_step = step_inputs[..., :-1], step_inputs[..., -1:] > 0
            outputs, state, weights = self.step(token_inputs, carry[1], memory, projected_memory, memory_mask)
            # A padded step leaves the state as it was, as Keras' RNN layers do.
            state = keras.tree.map_structure(lambda new, old: ops.where(real_step, new, old), state, carry[1])
            carry = (outputs, state, weights)
            return carry, carry

        first = (
            ops.zeros((batch, self.output_dim(inputs.shape[-1], memory.shape[-1])), dtype=self.compute_dtype),
            self.initial_state(memory, initial_state),
            ops.zeros((batch, source_length), dtype=self.compute_dtype),
        )
        steps = ops.moveaxis(ops.concatenate([inputs, real], axis=-1), 1, 0)
        (_, state, _), (outputs, _, weights) = ops.scan(one_step, first, steps)
        results = (ops.moveaxis(outputs, 0, 1),)
        if return_state:
            results += (state,)
        if return_attention_scores:
            results += (ops.moveaxis(weights, 0, 1),)
        return results if len(results) > 1 else results[0]

    def compute_output_spec(
        self, inputs, memory, *, return_state=False, return_attention_scores=False, **kwargs
    ):
        batch, length = inputs.shape[0], inputs.shape[1]
        results = (keras.KerasTensor((batch, length, self.output_dim(inputs.shape[-1], memory.shape[-1])), self.compute_dtype),)
        if return_state:
            results += ([keras.KerasTensor((batch, self.units), self.compute_dtype) for _ in range(self.state_size)],)
        if return_attention_scores:
            results += (keras.KerasTensor((batch, length, memory.shape[1]), self.compute_dtype),)
        return results if len(results) > 1 else results[0]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="layers")
class BahdanauDecoder(_AttentionDecoder):
    """GRU decoder attending with the previous state (RNNsearch; Bahdanau et al., 2015).

    For target embeddings ``y``, memory (annotations) ``h_j`` and state ``s``::

        e_ij = v^T tanh(W s_{i-1} + U h_j + b)      (additive score)
        a_ij = softmax_j(e_ij),   c_i = sum_j a_ij h_j
        s_i  = GRU(s_{i-1}, [y_{i-1}; c_i])         (Cho et al. GRU, reset gate before the product)
        o_i  = [s_i; c_i; y_{i-1}]                  (input of the deep output layer)

    The attention is computed *before* the recurrence, from ``s_{i-1}``, as in
    the paper (Appendix A.2.2). The paper's output layer (a maxout over
    ``U_o s_{i-1} + V_o y_{i-1} + C_o c_i``) is left to the model, which reads
    ``o_i``; `zoo`'s `seq2seq_bahdanau` applies one linear layer to it, with
    the new state ``s_i`` in place of ``s_{i-1}`` as in common implementations.

    Paper: Bahdanau, Cho, Bengio, "Neural Machine Translation by Jointly
    Learning to Align and Translate", ICLR 2015.

    Args:
        units: width of the GRU state `s` (`n` in the paper).
        attention_units: width of the alignment model (`n'`); defaults to `units`.

    Call arguments:
        inputs: target embeddings `(batch, T, d_y)` (the previous tokens).
        memory: encoder annotations `(batch, S, d_h)`.
        initial_state: `[s_0]` with `s_0` of shape `(batch, units)` (the paper's
            ``tanh(W_s h_1_backward)``, computed by the model); zeros if omitted.
        inputs_mask: `(batch, T)` target padding mask; defaults to the implicit
            Keras mask of `inputs`. A padded step leaves the state unchanged.
        memory_mask: `(batch, S)` source padding mask; defaults to the implicit
            Keras mask of `memory`.
        return_state: also return the final state `[s_T]`.
        return_attention_scores: also return the alignments `(batch, T, S)`.
        training: unused (the decoder has no dropout); Keras' call convention.

    Returns:
        `o` of shape `(batch, T, units + d_h + d_y)`, then the state and the
        alignments when requested.

    Example:

    >>> decoder = BahdanauDecoder(units=16)
    >>> targets, annotations = keras.random.normal((2, 5, 8)), keras.random.normal((2, 7, 12))
    >>> outputs, alignments = decoder(targets, annotations, return_attention_scores=True)
    >>> tuple(outputs.shape), tuple(alignments.shape)
    ((2, 5, 36), (2, 5, 7))
    """

    state_size = 1

    def __init__(self, units, attention_units=None, **kwargs):
        super().__init__(units, **kwargs)
        self.attention_units = units if attention_units is None else attention_units
        check_positive_int(attention_units=self.attention_units)
        self.attention = AdditiveAttention(self.attention_units, dtype=self.dtype_policy, name="attention")
        self.cell = keras.layers.GRUCell(units, reset_after=False, dtype=self.dtype_policy, name="gru")

    def build(self, inputs_shape, memory_shape):
        self.attention.build((None, 1, self.units), memory_shape)
        self.cell.build((None, inputs_shape[-1] + memory_shape[-1]))

    def output_dim(self, inputs_dim, memory_dim):
        return self.units + memory_dim + inputs_dim

    def initial_state(self, memory, cell_states=None):
        """The decoding state before the first token: `[s_0]`."""
        return [self._zeros(memory)] if cell_states is None else list(cell_states)

    def step(self, inputs, state, memory, projected_memory, memory_mask=None):
        """One target token: `inputs` `(batch, d_y)` -> `(o_i, [s_i], a_i)`."""
        (previous,) = state
        context, weights = self._attend(previous, memory, projected_memory, memory_mask)
        new_state, _ = self.cell(ops.concatenate([inputs, context], axis=-1), [previous])
        return ops.concatenate([new_state, context, inputs], axis=-1), [new_state], weights

    def get_config(self):
        return {**super().get_config(), "attention_units": self.attention_units}


@keras.saving.register_keras_serializable(package="layers")
class LuongDecoder(_AttentionDecoder):
    """Stacked LSTM decoder with global attention on the current state and input feeding (Luong et al., 2015).

    For target embeddings ``y``, memory ``h_s`` and the attentional state ``h~``::

        h_t  = LSTM_stack([y_{t-1}; h~_{t-1}], state_{t-1})   (input feeding, Section 3.3)
        a_ts = softmax_s(score(h_t, h_s)),   c_t = sum_s a_ts h_s
        h~_t = tanh(W_c [c_t; h_t])                          (Eq. 5)

    ``score`` is `general` (``h_t^T W_a h_s``) by default, or `dot` or `concat`
    (Eq. 8). The model puts ``softmax(W_s h~_t)`` on top (Eq. 6). Attention reads
    the top LSTM layer; without `input_feeding` the LSTM input is ``y_{t-1}`` alone.

    Paper: Luong, Pham, Manning, "Effective Approaches to Attention-based Neural
    Machine Translation", EMNLP 2015.

    Args:
        units: width of the LSTM layers and of ``h~``.
        num_layers: stacked LSTM layers (the paper uses 4).
        score_mode: `"general"`, `"dot"` (memory as wide as `units`) or `"concat"`.
        input_feeding: feed ``h~_{t-1}`` into the next step.

    Call arguments:
        inputs: target embeddings `(batch, T, d_y)` (the previous tokens).
        memory: encoder outputs `(batch, S, d_h)`.
        initial_state: the LSTM states `[h_1, c_1, ..., h_L, c_L]`, each
            `(batch, units)` (e.g. the encoder's final states); zeros if omitted.
            ``h~_0`` is zero.
        inputs_mask: `(batch, T)` target padding mask; defaults to the implicit
            Keras mask of `inputs`. A padded step leaves the state unchanged.
        memory_mask: `(batch, S)` source padding mask; defaults to the implicit
            Keras mask of `memory`.
        return_state: also return the final state `[h~_T, h_1, c_1, ..., h_L, c_L]`.
        return_attention_scores: also return the alignments `(batch, T, S)`.
        training: unused (the decoder has no dropout); Keras' call convention.

    Returns:
        ``h~`` of shape `(batch, T, units)`, then the state and the alignments
        when requested.

    Example:

    >>> decoder = LuongDecoder(units=16, num_layers=2)
    >>> targets, memory = keras.random.normal((2, 5, 8)), keras.random.normal((2, 7, 16))
    >>> outputs, alignments = decoder(targets, memory, return_attention_scores=True)
    >>> tuple(outputs.shape), tuple(alignments.shape)
    ((2, 5, 16), (2, 5, 7))
    """

    def __init__(self, units, num_layers=1, score_mode="general", input_feeding=True, **kwargs):
        super().__init__(units, **kwargs)
        check_positive_int(num_layers=num_layers)
        if score_mode not in LUONG_SCORE_MODES:
            raise ValueError(f"`score_mode` must be one of {LUONG_SCORE_MODES}; received score_mode={score_mode!r}.")
        self.num_layers = num_layers
        self.score_mode = score_mode
        self.input_feeding = input_feeding
        self.attention = DotProductAttention(
            score_mode, units=units if score_mode == "concat" else None, dtype=self.dtype_policy, name="attention"
        )
        self.cells = [
            keras.layers.LSTMCell(units, dtype=self.dtype_policy, name=f"lstm_{index}") for index in range(num_layers)
        ]
        self.attentional_projection = keras.layers.Dense(
            units, activation="tanh", use_bias=False, dtype=self.dtype_policy, name="attentional_projection"
        )

    @property
    def state_size(self):
        return 1 + 2 * self.num_layers

    def build(self, inputs_shape, memory_shape):
        input_dim = inputs_shape[-1] + (self.units if self.input_feeding else 0)
        for cell in self.cells:
            cell.build((None, input_dim))
            input_dim = self.units
        self.attention.build((None, 1, self.units), memory_shape)
        self.attentional_projection.build((None, memory_shape[-1] + self.units))

    def output_dim(self, inputs_dim, memory_dim):
        return self.units

    def initial_state(self, memory, cell_states=None):
        """The decoding state before the first token: `[h~_0, h_1, c_1, ..., h_L, c_L]`."""
        if cell_states is None:
            cell_states = [self._zeros(memory) for _ in range(2 * self.num_layers)]
        elif len(cell_states) != 2 * self.num_layers:
            raise ValueError(
                f"LuongDecoder with num_layers={self.num_layers} needs {2 * self.num_layers} initial states "
                f"[h_1, c_1, ...]; received {len(cell_states)}."
            )
        return [self._zeros(memory), *cell_states]

    def step(self, inputs, state, memory, projected_memory, memory_mask=None):
        """One target token: `inputs` `(batch, d_y)` -> `(h~_t, state_t, a_t)`."""
        attentional, *cell_states = state
        x = ops.concatenate([inputs, attentional], axis=-1) if self.input_feeding else inputs
        new_cell_states = []
        for index, cell in enumerate(self.cells):
            x, states = cell(x, cell_states[2 * index : 2 * index + 2])
            new_cell_states += list(states)
        context, weights = self._attend(x, memory, projected_memory, memory_mask)
        attentional = self.attentional_projection(ops.concatenate([context, x], axis=-1))
        return attentional, [attentional, *new_cell_states], weights

    def get_config(self):
        return {
            **super().get_config(),
            "num_layers": self.num_layers,
            "score_mode": self.score_mode,
            "input_feeding": self.input_feeding,
        }
