"""Sequence-to-sequence translation models, and their encoder/decoder split for decoding.

Every model takes `{"source_tokens": (batch, S), "target_tokens_in": (batch, T)}`
(int32, id 0 = padding; the target starts with the start token) and returns
next-token `logits` `(batch, T, target_vocab_size)` whose Keras mask is the
target padding mask, so Keras losses and metrics average over real tokens.

`decoder_for(model)` gives the split used at inference: `encode` runs the
encoder once per batch, `step` decodes one token per call with a cache of what
was decoded before.
"""

import keras
from keras import ops

import layers
from layers.validation import check_heads_divide, check_positive_int, check_rate
from zoo.registry import register

TASK = "translation"
VASWANI = "Vaswani et al. 2017, Attention Is All You Need (Table 3)"


def _token_input(name):
    return keras.Input(shape=(None,), dtype="int32", name=name)


@register(
    "transformer_base",
    task=TASK,
    paper=VASWANI,
)
def transformer(
    source_vocab_size=37000,
    target_vocab_size=37000,
    hidden_dim=512,
    num_layers=6,
    num_heads=8,
    intermediate_dim=2048,
    dropout=0.1,
    attention_dropout=0.0,
    shared_embeddings=True,
    tie_output_embedding=True,
    norm_first=False,
    position_encoding="sinusoidal",
    max_length=512,
):
    """Encoder-decoder Transformer (Vaswani et al., 2017): N encoder and N decoder blocks.

    Embeddings are scaled by ``sqrt(d_model)`` and summed with the position
    encoding (Section 3.4-3.5). `dropout` acts on those sums and on each
    sublayer's output before its residual sum (Section 5.4, "Residual Dropout");
    `attention_dropout` on the attention weights, which the paper leaves alone
    (0: training runs the fused attention kernel). `shared_embeddings` uses
    one table for source and target (a shared vocabulary, as the paper's
    37000-token English-German BPE vocabulary); `tie_output_embedding` makes the
    pre-softmax projection the transposed target table (Section 3.4), without a
    bias. Pre-LN (`norm_first`) adds a final LayerNorm to encoder and decoder.
    Positions are sinusoidal by default (the paper's); with
    `position_encoding="learned"` a table of `max_length` rows is learned (shared
    by source and target when the embeddings are); sinusoidal positions take
    sequences of any length and do not use `max_length`.

    Parameter count (what `describe` reports): all weights, counted once when
    shared. Base at 37000 shared tokens: 63.1M (paper: 65M); big: 214.2M
    (paper: 213M). The paper does not say how it counted; the formula
    ``V d + N (4 d^2 + 2 d d_ff) + N (8 d^2 + 2 d d_ff)`` plus biases and
    LayerNorms gives these numbers.
    """
    # `intermediate_dim` is checked by the blocks, under this name; the others have other names in their layers.
    check_positive_int(
        source_vocab_size=source_vocab_size,
        target_vocab_size=target_vocab_size,
        hidden_dim=hidden_dim,
        num_layers=num_layers,
        num_heads=num_heads,
        max_length=max_length,
    )
    check_heads_divide(hidden_dim, num_heads)
    check_rate(dropout=dropout, attention_dropout=attention_dropout)
    if shared_embeddings and source_vocab_size != target_vocab_size:
        raise ValueError(
            "`shared_embeddings=True` needs one vocabulary: source_vocab_size and target_vocab_size must be equal; "
            f"received {source_vocab_size} and {target_vocab_size}."
        )

    def embedding(vocab_size, name):
        return layers.TokenAndPositionEmbedding(
            vocab_size,
            max_length,
            hidden_dim,
            mask_zero=True,
            position_encoding=position_encoding,
            scale_embeddings=True,
            name=name,
        )

    source_tokens, target_tokens = _token_input("source_tokens"), _token_input("target_tokens_in")
    source_embedding = embedding(source_vocab_size, "source_embedding")
    target_embedding = source_embedding if shared_embeddings else embedding(target_vocab_size, "target_embedding")
    block_options = {
        "num_heads": num_heads,
        "intermediate_dim": intermediate_dim,
        "dropout": dropout,
        "attention_dropout": attention_dropout,
        "norm_first": norm_first,
    }

    x = keras.layers.Dropout(dropout, name="source_dropout")(source_embedding(source_tokens))
    for index in range(num_layers):
        x = layers.TransformerEncoderBlock(**block_options, name=f"encoder_{index}")(x)
    if norm_first:
        x = keras.layers.LayerNormalization(epsilon=1e-5, name="encoder_norm")(x)
    memory = x

    y = keras.layers.Dropout(dropout, name="target_dropout")(target_embedding(target_tokens))
    for index in range(num_layers):
        y = layers.TransformerDecoderBlock(**block_options, name=f"decoder_{index}")(y, memory)
    if norm_first:
        y = keras.layers.LayerNormalization(epsilon=1e-5, name="decoder_norm")(y)
    if tie_output_embedding:
        y = target_embedding(y, reverse=True)
    else:
        y = keras.layers.Dense(target_vocab_size, name="output_projection")(y)
    logits = keras.layers.Activation("linear", dtype="float32", name="logits")(y)
    return keras.Model({"source_tokens": source_tokens, "target_tokens_in": target_tokens}, logits)


register(
    "transformer_big",
    task=TASK,
    paper=VASWANI,
    hidden_dim=1024,
    intermediate_dim=4096,
    num_heads=16,
    dropout=0.3,
)(transformer)

SMALL_VOCABULARY = {"source_vocab_size": 8000, "target_vocab_size": 8000, "shared_embeddings": False}

register(
    "transformer_small",
    task=TASK,
    paper="Vaswani et al. 2017 at the size of bentrevett/pytorch-seq2seq's Multi30k Transformer (d 256, 3 layers, 8 heads)",
    hidden_dim=256,
    num_layers=3,
    num_heads=8,
    intermediate_dim=512,
    **SMALL_VOCABULARY,
)(transformer)

register(
    "transformer_tiny",
    task=TASK,
    paper="Vaswani et al. 2017, scaled down for smoke runs and CPUs",
    hidden_dim=128,
    num_layers=2,
    num_heads=4,
    intermediate_dim=512,
    **SMALL_VOCABULARY,
)(transformer)


def _recurrent_model(source_encoder, decoder, source_vocab_size, target_vocab_size, embedding_dim, dropout):
    """Shared tail of the RNN models: target embedding -> `decoder` over the encoder -> logits.

    `source_encoder` is a `keras.Model` named "encoder" mapping source tokens to
    `[memory, *initial_decoder_states]`; decoding reuses it and the layers named
    here ("target_embedding", "decoder", "output_projection").
    """
    source_tokens, target_tokens = _token_input("source_tokens"), _token_input("target_tokens_in")
    memory, *initial_state = source_encoder(source_tokens)
    y = layers.TokenEmbedding(target_vocab_size, embedding_dim, mask_zero=True, name="target_embedding")(target_tokens)
    y = keras.layers.Dropout(dropout, name="target_dropout")(y)
    y = decoder(y, memory, initial_state=initial_state, memory_mask=ops.not_equal(source_tokens, 0))
    y = keras.layers.Dropout(dropout, name="output_dropout")(y)
    y = keras.layers.Dense(target_vocab_size, name="output_projection")(y)
    logits = keras.layers.Activation("linear", dtype="float32", name="logits")(y)
    return keras.Model({"source_tokens": source_tokens, "target_tokens_in": target_tokens}, logits)


def _source_embedding(source_vocab_size, embedding_dim, dropout):
    tokens = _token_input("source_tokens")
    x = layers.TokenEmbedding(source_vocab_size, embedding_dim, mask_zero=True, name="source_embedding")(tokens)
    return tokens, keras.layers.Dropout(dropout, name="source_dropout")(x)


@register(
    "seq2seq_bahdanau",
    task=TASK,
    paper="Bahdanau et al. 2015, Neural Machine Translation by Jointly Learning to Align and Translate (RNNsearch)",
)
def seq2seq_bahdanau(
    source_vocab_size=8000,
    target_vocab_size=8000,
    embedding_dim=256,
    encoder_units=512,
    decoder_units=512,
    attention_units=512,
    dropout=0.5,
):
    """RNNsearch (Bahdanau, Cho & Bengio, 2015): bidirectional GRU encoder, GRU decoder with additive attention (`layers.BahdanauDecoder`).

    Annotations ``h_j = [h_fwd_j; h_bwd_j]``; the decoder starts from
    ``s_0 = tanh(W_s h_bwd_1 + b_s)`` (Appendix A.2.2) and predicts each token with one
    linear layer over ``[s_i; c_i; E y_{i-1}]``. Defaults are sized for Multi30k
    (as bentrevett/pytorch-seq2seq's attention model: embeddings 256, GRUs 512,
    dropout 0.5); the paper's RNNsearch uses embedding_dim=620,
    encoder_units=decoder_units=attention_units=1000 and 30000-token vocabularies.
    """
    # `attention_units` is checked by `BahdanauDecoder`, under this name.
    check_positive_int(
        source_vocab_size=source_vocab_size,
        target_vocab_size=target_vocab_size,
        embedding_dim=embedding_dim,
        encoder_units=encoder_units,
        decoder_units=decoder_units,
    )
    check_rate(dropout=dropout)
    tokens, x = _source_embedding(source_vocab_size, embedding_dim, dropout)
    annotations, _, backward_state = keras.layers.Bidirectional(
        keras.layers.GRU(encoder_units, return_sequences=True, return_state=True, reset_after=False),
        name="bidirectional_gru",
    )(x)
    initial_state = keras.layers.Dense(decoder_units, activation="tanh", name="initial_state")(backward_state)
    encoder = keras.Model(tokens, [annotations, initial_state], name="encoder")
    decoder = layers.BahdanauDecoder(decoder_units, attention_units, name="decoder")
    return _recurrent_model(encoder, decoder, source_vocab_size, target_vocab_size, embedding_dim, dropout)


@register(
    "seq2seq_luong",
    task=TASK,
    paper="Luong et al. 2015, Effective Approaches to Attention-based Neural Machine Translation (global, general, input feeding)",
)
def seq2seq_luong(
    source_vocab_size=8000,
    target_vocab_size=8000,
    embedding_dim=256,
    units=512,
    num_layers=2,
    score_mode="general",
    input_feeding=True,
    dropout=0.3,
):
    """Stacked LSTM encoder and decoder with global attention (Luong, Pham & Manning, 2015; `layers.LuongDecoder`).

    The decoder's LSTMs start from the encoder's final states, layer by layer;
    ``p(y_t) = softmax(W_s h~_t)`` (Eq. 6). Dropout on the embeddings, between
    encoder layers and on ``h~`` (the paper: 0.2 between layers). Defaults are
    sized for Multi30k; the paper uses 4 layers of 1000 units, 1000-wide
    embeddings, 50000-token vocabularies and a reversed source.
    """
    check_positive_int(
        source_vocab_size=source_vocab_size,
        target_vocab_size=target_vocab_size,
        embedding_dim=embedding_dim,
        units=units,
        num_layers=num_layers,
    )
    check_rate(dropout=dropout)
    tokens, x = _source_embedding(source_vocab_size, embedding_dim, dropout)
    states = []
    for index in range(num_layers):
        if index:
            x = keras.layers.Dropout(dropout, name=f"encoder_dropout_{index}")(x)
        x, *layer_states = keras.layers.LSTM(units, return_sequences=True, return_state=True, name=f"lstm_{index}")(x)
        states += layer_states
    encoder = keras.Model(tokens, [x, *states], name="encoder")
    decoder = layers.LuongDecoder(units, num_layers, score_mode, input_feeding, name="decoder")
    return _recurrent_model(encoder, decoder, source_vocab_size, target_vocab_size, embedding_dim, dropout)


def _numbered_layers(model, prefix):
    """Layers `prefix_0, prefix_1, ...` of `model`, in order."""
    numbered = {}
    for layer in model.layers:
        head, _, number = layer.name.rpartition("_")
        if head == prefix and number.isdigit():
            numbered[int(number)] = layer
    return [numbered[i] for i in sorted(numbered)]


class TransformerDecoding:
    """The encoder/decoder split of a `transformer` model, for token-by-token decoding.

    `encode` runs the embedding and encoder once per batch and projects the
    encoder output into each decoder block's cross-attention keys and values;
    `step` embeds one new token per sentence at its position and runs the
    decoder blocks with their self-attention caches, so token `t` costs O(t).
    Works on a freshly built model and on one loaded from `.keras` (it finds the
    layers by name).
    """

    def __init__(self, model):
        names = {layer.name for layer in model.layers}
        self.source_embedding = model.get_layer("source_embedding")
        self.target_embedding = (
            model.get_layer("target_embedding") if "target_embedding" in names else self.source_embedding
        )
        self.encoders = _numbered_layers(model, "encoder")
        self.decoders = _numbered_layers(model, "decoder")
        self.encoder_norm = model.get_layer("encoder_norm") if "encoder_norm" in names else None
        self.decoder_norm = model.get_layer("decoder_norm") if "decoder_norm" in names else None
        self.output_projection = model.get_layer("output_projection") if "output_projection" in names else None

    def encode(self, source_tokens):
        """The decoding state of a batch: `{"source_mask", "memory_caches"}` (batch first)."""
        source_mask = ops.not_equal(source_tokens, 0)
        x = self.source_embedding(source_tokens)
        for block in self.encoders:
            x = block(x, mask=source_mask)
        if self.encoder_norm is not None:
            x = self.encoder_norm(x)
        return {"source_mask": source_mask, "memory_caches": [block.precompute_memory(x) for block in self.decoders]}

    def start(self, state):
        """Empty self-attention caches, one per decoder block."""
        batch = ops.shape(state["source_mask"])[0]
        return [block.empty_cache(batch) for block in self.decoders]

    def step(self, tokens, index, state, caches):
        """Logits `(batch, vocab)` of the token after `tokens` `(batch,)` at position `index`.

        Returns `(logits, caches)` with this token's keys and values appended.
        """
        y = self.target_embedding(ops.expand_dims(tokens, 1), start_index=index)
        new_caches = []
        for block, cache, memory_cache in zip(self.decoders, caches, state["memory_caches"]):
            y, cache = block(
                y, memory_cache=memory_cache, memory_mask=state["source_mask"], self_attention_cache=cache
            )
            new_caches.append(cache)
        if self.decoder_norm is not None:
            y = self.decoder_norm(y)
        if self.output_projection is None:
            logits = self.target_embedding(y, reverse=True)
        else:
            logits = self.output_projection(y)
        return ops.cast(logits[:, 0], "float32"), new_caches


class RecurrentDecoding:
    """The encoder/decoder split of `seq2seq_bahdanau` and `seq2seq_luong`, for token-by-token decoding.

    `encode` runs the "encoder" sub-model once per batch and projects its output
    into the attention keys; the decoder's recurrent state is the cache, and
    `step` advances it by one token (the cost of a step does not grow with `t`).
    """

    def __init__(self, model):
        self.encoder = model.get_layer("encoder")
        self.target_embedding = model.get_layer("target_embedding")
        self.decoder = model.get_layer("decoder")
        self.output_projection = model.get_layer("output_projection")

    def encode(self, source_tokens):
        """The decoding state of a batch: `{"source_mask", "memory", "projected_memory", "initial_state"}`."""
        memory, *initial_state = self.encoder(source_tokens)
        return {
            "source_mask": ops.not_equal(source_tokens, 0),
            "memory": memory,
            "projected_memory": self.decoder.precompute_memory(memory),
            "initial_state": initial_state,
        }

    def start(self, state):
        """The decoder's state before the first token."""
        return self.decoder.initial_state(state["memory"], state["initial_state"])

    def step(self, tokens, index, state, caches):
        """Logits `(batch, vocab)` of the token after `tokens` `(batch,)`; returns `(logits, new_state)`."""
        # `call`, not `__call__`: one step needs no padding mask (the state holds the history), and
        # the embedding's mask would reach the first LSTM cell, which warns that it drops it.
        embedded = self.target_embedding.call(tokens)
        outputs, caches, _ = self.decoder.step(
            embedded, caches, state["memory"], state["projected_memory"], state["source_mask"]
        )
        return ops.cast(self.output_projection(outputs), "float32"), caches


def decoder_for(model):
    """The encoder/decoder split of a translation model from this module."""
    names = {layer.name for layer in model.layers}
    if "decoder_0" in names:
        return TransformerDecoding(model)
    if {"encoder", "decoder", "target_embedding", "output_projection"} <= names:
        return RecurrentDecoding(model)
    raise ValueError(
        f"Model {model.name!r} is not a translation model of zoo.translation "
        "(it has neither Transformer decoder blocks decoder_0... nor an RNN encoder and decoder)."
    )
