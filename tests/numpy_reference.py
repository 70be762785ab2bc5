"""Plain NumPy implementations of the papers' formulas, written from the equations.

They share no code with `layers/` and loop where that makes the formula obvious.
Masks are boolean, True where attention is allowed.
"""

import numpy as np


def softmax(x, axis=-1):
    x = x - x.max(axis=axis, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)


def masked_weights(scores, mask):
    """Softmax over allowed keys; a row with no allowed key is all zeros."""
    weights = np.zeros_like(scores, dtype=np.float64)
    for index in np.ndindex(scores.shape[:-1]):
        allowed = mask[index]
        if allowed.any():
            weights[index][allowed] = softmax(scores[index][allowed].astype(np.float64))
    return weights


def full_mask(batch, t_q, t_k, query_mask=None, value_mask=None, causal=False):
    mask = np.ones((batch, t_q, t_k), bool)
    if query_mask is not None:
        mask &= query_mask[:, :, None]
    if value_mask is not None:
        mask &= value_mask[:, None, :]
    if causal:
        mask &= np.tril(np.ones((t_q, t_k), bool), k=t_k - t_q)[None]
    return mask


def additive(query, key, value, w_q, w_k, bias, v, mask):
    """Bahdanau: e_ij = v^T tanh(W_q q_i + W_k k_j + b)."""
    batch, t_q, t_k = query.shape[0], query.shape[1], key.shape[1]
    scores = np.zeros((batch, t_q, t_k))
    for b in range(batch):
        for i in range(t_q):
            for j in range(t_k):
                scores[b, i, j] = v @ np.tanh(query[b, i] @ w_q + key[b, j] @ w_k + bias)
    weights = masked_weights(scores, mask)
    return weights @ value, weights


def luong(query, key, value, mode, mask, w=None, w_q=None, w_k=None, v=None):
    """Luong et al. 2015 Eq. 8 scores (and the scaled dot product)."""
    if mode == "dot":
        scores = query @ key.transpose(0, 2, 1)
    elif mode == "scaled":
        scores = query @ key.transpose(0, 2, 1) / np.sqrt(key.shape[-1])
    elif mode == "general":
        scores = query @ w @ key.transpose(0, 2, 1)
    else:  # concat: v^T tanh(W [q; k]) with W = [W_q, W_k]
        return additive(query, key, value, w_q, w_k, 0.0, v, mask)
    weights = masked_weights(scores, mask)
    return weights @ value, weights


def multi_head(query, key, value, weights, mask):
    """Vaswani et al. 2017: Concat(head_1..head_H) W^O, per-head scaled dot product.

    `weights` is `keras.layers.MultiHeadAttention.get_weights()` order:
    W_q (d, H, dk), b_q, W_k, b_k, W_v, b_v, W_o (H, dv, d_out), b_o.
    """
    w_q, b_q, w_k, b_k, w_v, b_v, w_o, b_o = weights
    heads = w_q.shape[1]
    outputs, all_weights = [], []
    for h in range(heads):
        q = query @ w_q[:, h] + b_q[h]
        k = key @ w_k[:, h] + b_k[h]
        v = value @ w_v[:, h] + b_v[h]
        a = masked_weights(q @ k.transpose(0, 2, 1) / np.sqrt(q.shape[-1]), mask)
        outputs.append(a @ v @ w_o[h])
        all_weights.append(a)
    return sum(outputs) + b_o, np.stack(all_weights, axis=1)


def sinusoidal(length, width, max_wavelength=10000, start=0):
    """PE(pos, 2i) = sin(pos / w^(2i/d)), PE(pos, 2i+1) = cos(pos / w^(2i/d))."""
    table = np.zeros((length, width))
    for pos in range(length):
        for channel in range(width):
            angle = (pos + start) / max_wavelength ** ((channel - channel % 2) / width)
            table[pos, channel] = np.sin(angle) if channel % 2 == 0 else np.cos(angle)
    return table


def attention_pooling(states, context, mask, kernel=None, bias=None):
    """Zhou et al. 2016 (no kernel) or Yang et al. 2016 (kernel, bias)."""
    hidden = states if kernel is None else states @ kernel + bias
    scores = np.tanh(hidden) @ context
    weights = masked_weights(scores[:, None, :], mask[:, None, :])[:, 0]
    return np.einsum("bt,btd->bd", weights, states), weights


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def gru_cell(x, h, kernel, recurrent_kernel, bias):
    """Cho et al. 2014: z, r gates; h~ = tanh(W x + U (r * h) + b); h' = z * h + (1 - z) * h~.

    Weights in Keras' `GRUCell(reset_after=False)` layout: gates [z, r, h~] side by side.
    """
    w_z, w_r, w_h = np.split(kernel, 3, axis=-1)
    u_z, u_r, u_h = np.split(recurrent_kernel, 3, axis=-1)
    b_z, b_r, b_h = np.split(bias, 3)
    z = sigmoid(x @ w_z + h @ u_z + b_z)
    r = sigmoid(x @ w_r + h @ u_r + b_r)
    candidate = np.tanh(x @ w_h + (r * h) @ u_h + b_h)
    return z * h + (1 - z) * candidate


def lstm_cell(x, h, c, kernel, recurrent_kernel, bias):
    """Hochreiter & Schmidhuber 1997 with forget gate: gates [i, f, g, o] side by side (Keras' layout)."""
    i, f, g, o = np.split(x @ kernel + h @ recurrent_kernel + bias, 4, axis=-1)
    c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
    return sigmoid(o) * np.tanh(c), c


def bahdanau_decoder(targets, memory, mask, s, attention, gru):
    """RNNsearch, one step at a time: attend from s_{i-1}, GRU on [y_{i-1}; c_i], output [s_i; c_i; y_{i-1}].

    `attention` is (W_q, W_k, b, v) of `additive`; `gru` the arguments of `gru_cell`.
    """
    outputs, alignments = [], []
    for i in range(targets.shape[1]):
        context, weights = additive(s[:, None], memory, memory, *attention, mask[:, None, :])
        context, weights = context[:, 0], weights[:, 0]
        s = gru_cell(np.concatenate([targets[:, i], context], axis=-1), s, *gru)
        outputs.append(np.concatenate([s, context, targets[:, i]], axis=-1))
        alignments.append(weights)
    return np.stack(outputs, axis=1), np.stack(alignments, axis=1)


def luong_decoder(targets, memory, mask, states, score_mode, score_weights, lstms, w_c, input_feeding):
    """Luong et al. 2015, one step at a time: stacked LSTMs on [y_{t-1}; h~_{t-1}], score the top
    state against the memory (Eq. 8), h~_t = tanh(W_c [c_t; h_t]) (Eq. 5).

    `states` is [(h, c)] per layer; `lstms` the kernels of `lstm_cell` per layer.
    """
    states = list(states)
    attentional = np.zeros((targets.shape[0], w_c.shape[-1]))
    outputs, alignments = [], []
    for t in range(targets.shape[1]):
        x = np.concatenate([targets[:, t], attentional], axis=-1) if input_feeding else targets[:, t]
        for layer, weights in enumerate(lstms):
            states[layer] = lstm_cell(x, *states[layer], *weights)
            x = states[layer][0]
        context, weights = luong(x[:, None], memory, memory, score_mode, mask[:, None, :], **score_weights)
        attentional = np.tanh(np.concatenate([context[:, 0], x], axis=-1) @ w_c)
        outputs.append(attentional)
        alignments.append(weights[:, 0])
    return np.stack(outputs, axis=1), np.stack(alignments, axis=1)


def squeeze_excitation(x, w1, b1, w2, b2):
    """Hu et al. 2018: s = sigmoid(W2 relu(W1 GAP(x) + b1) + b2), y = s x."""
    z = x.mean(axis=tuple(range(1, x.ndim - 1)))
    s = sigmoid(np.maximum(z @ w1 + b1, 0) @ w2 + b2)
    return x * s.reshape((len(x),) + (1,) * (x.ndim - 2) + (-1,)), s


def correlate_same(signal, kernel):
    """Zero-padded 'same' cross-correlation over the leading axes of `signal` (1-D or 2-D), looping."""
    half = [k // 2 for k in kernel.shape[: signal.ndim]]
    out = np.zeros(signal.shape)
    for index in np.ndindex(signal.shape):
        for offset in np.ndindex(kernel.shape[: signal.ndim]):
            source = tuple(i + o - h for i, o, h in zip(index, offset, half))
            if all(0 <= p < n for p, n in zip(source, signal.shape)):
                out[index] += kernel[offset] * signal[source]
    return out


def eca(x, kernel):
    """Wang et al. 2020: s = sigmoid(conv1d_k(GAP(x))) over channels, y = s x."""
    z = x.mean(axis=tuple(range(1, x.ndim - 1)))
    s = sigmoid(np.stack([correlate_same(row, kernel) for row in z]))
    return x * s.reshape((len(x),) + (1,) * (x.ndim - 2) + (-1,)), s


def cbam(x, w1, b1, w2, b2, spatial_kernel, mask=None):
    """Woo et al. 2018: channel attention from avg- and max-pooled descriptors through one MLP,
    then spatial attention from a convolution over the channel-wise mean and max maps. With a
    `(batch, H, W)` mask, the pools read the kept pixels only and masked pixels' maps are zeros."""
    def mlp(z):
        return np.maximum(z @ w1 + b1, 0) @ w2 + b2

    kept = np.ones(x.shape[:3], bool) if mask is None else mask
    average = np.stack([image[keep].mean(axis=0) for image, keep in zip(x, kept)])
    maximum = np.stack([image[keep].max(axis=0) for image, keep in zip(x, kept)])
    channel = sigmoid(mlp(average) + mlp(maximum))
    refined = x * channel[:, None, None, :]
    spatial = np.zeros(x.shape[:3])
    for b in range(len(x)):
        for c, pooled in enumerate((refined[b].mean(axis=-1), refined[b].max(axis=-1))):
            spatial[b] += correlate_same(pooled * kept[b], spatial_kernel[:, :, c, 0])
    spatial = sigmoid(spatial)
    return refined * spatial[..., None], channel, spatial


def patch_embedding(images, kernel, bias):
    """Dosovitskiy et al. 2021 Eq. 1: flatten each P x P patch (row-major over the grid) and project."""
    p_h, p_w, channels, width = kernel.shape
    batch, height, image_width, _ = images.shape
    tokens = []
    for row in range(0, height, p_h):
        for column in range(0, image_width, p_w):
            patch = images[:, row : row + p_h, column : column + p_w, :].reshape(batch, -1)
            tokens.append(patch @ kernel.reshape(-1, width) + bias)
    return np.stack(tokens, axis=1)


def bilinear_resize(grid, new_shape):
    """Bilinear interpolation of `(H, W, D)` with half-pixel centres and edge clamping (no antialiasing)."""
    def coordinates(new, old):
        source = np.clip((np.arange(new) + 0.5) * old / new - 0.5, 0, old - 1)
        low = np.floor(source).astype(int)
        return low, np.minimum(low + 1, old - 1), source - low

    (r0, r1, fr), (c0, c1, fc) = coordinates(new_shape[0], grid.shape[0]), coordinates(new_shape[1], grid.shape[1])
    out = np.zeros((*new_shape, grid.shape[-1]))
    for i in range(new_shape[0]):
        for j in range(new_shape[1]):
            top = (1 - fc[j]) * grid[r0[i], c0[j]] + fc[j] * grid[r0[i], c1[j]]
            bottom = (1 - fc[j]) * grid[r1[i], c0[j]] + fc[j] * grid[r1[i], c1[j]]
            out[i, j] = (1 - fr[i]) * top + fr[i] * bottom
    return out


def random_padding_mask(rng, batch, length):
    """Random right padding; every sequence keeps at least one real step."""
    lengths = rng.integers(1, length + 1, size=batch)
    return np.arange(length)[None, :] < lengths[:, None]


def _heads(x, kernel, bias, h):
    return x @ kernel[:, h] + bias[h]


def linformer(query, key, value, weights, key_projection, value_projection, query_mask, value_mask):
    """Wang et al. 2020, Eq. 7: head_h = softmax(q_h (E_h k_h)^T / sqrt(d)) F_h v_h, with the padded keys and values
    set to 0 and E_h, F_h cut to the sequence's length; `key_projection` / `value_projection` are `(H, k, n)`.
    Padded queries attend to nothing (context 0, output the output bias), as in `multi_head`, whose `weights` these are."""
    w_q, b_q, w_k, b_k, w_v, b_v, w_o, b_o = weights
    length = key.shape[1]
    output = np.zeros(query.shape[:2] + (w_o.shape[-1],))
    for b in range(query.shape[0]):
        for h in range(w_q.shape[1]):
            q = _heads(query[b], w_q, b_q, h)
            k = _heads(key[b], w_k, b_k, h) * value_mask[b][:, None]
            v = _heads(value[b], w_v, b_v, h) * value_mask[b][:, None]
            projected_k, projected_v = key_projection[h][:, :length] @ k, value_projection[h][:, :length] @ v
            a = softmax(q @ projected_k.T / np.sqrt(q.shape[-1]))
            output[b] += (a @ projected_v * query_mask[b][:, None]) @ w_o[h]
    return output + b_o


def band_mask(length, window, causal):
    """`(T, T)`: True where |i - j| <= window (causal: 0 <= i - j <= window)."""
    offsets = np.arange(length)[:, None] - np.arange(length)[None, :]
    return (offsets >= 0) & (offsets <= window) if causal else np.abs(offsets) <= window


def favor_plus(query, key, value, weights, features, query_mask, value_mask, causal):
    """Choromanski et al. 2021, Lemma 1 and Eq. 4-5: phi(x) = exp(W x - |x|^2 / 2) / sqrt(m) of x = q / d^(1/4) and
    k / d^(1/4); context_i = sum_j phi(q_i).phi(k_j) v_j / sum_j phi(q_i).phi(k_j) over the real keys (j <= i when
    causal), in float64 without any stabilizer. Padded queries attend to nothing, as in `multi_head`."""
    w_q, b_q, w_k, b_k, w_v, b_v, w_o, b_o = weights
    features = features.astype(np.float64)

    def phi(x):
        x = x / x.shape[-1] ** 0.25
        return np.exp(x @ features.T - (x * x).sum(-1, keepdims=True) / 2) / np.sqrt(features.shape[0])

    output = np.zeros(query.shape[:2] + (w_o.shape[-1],))
    for b in range(query.shape[0]):
        for h in range(w_q.shape[1]):
            kernel = phi(_heads(query[b], w_q, b_q, h)) @ phi(_heads(key[b], w_k, b_k, h)).T
            kernel = kernel * value_mask[b][None, :]
            if causal:
                kernel = np.tril(kernel)
            context = kernel / kernel.sum(-1, keepdims=True) @ _heads(value[b], w_v, b_v, h)
            output[b] += (context * query_mask[b][:, None]) @ w_o[h]
    return output + b_o
