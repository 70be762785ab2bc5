"""The model registry: named builders whose keyword arguments are the configuration.

After timm's `register_model`: a builder is a small function returning a
`keras.Model`; its keyword defaults are the paper's (or the recipe's)
configuration, and size variants register the same builder with other defaults.
"""

import dataclasses
import difflib
import fnmatch
import inspect
import math

_REGISTRY = {}


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """One registered model: its builder and the defaults it is registered with."""

    name: str
    builder: object
    task: str
    paper: str
    defaults: dict

    def configuration(self):
        """The full configuration at defaults: builder defaults, then registered ones."""
        parameters = inspect.signature(self.builder).parameters
        return {key: p.default for key, p in parameters.items()} | self.defaults


def register(name, *, task, paper, **defaults):
    """Registers a builder under `name`; returns the builder unchanged.

    Use as a decorator, or as one line for a size variant of an existing builder::

        @register("transformer_classifier_tiny", task="text-classification", paper="...")
        def transformer_classifier(hidden_dim=128, ...): ...

        register("transformer_classifier_small", task="text-classification",
                 paper="...", hidden_dim=256)(transformer_classifier)

    Args:
        name: the registry name (unique).
        task: the task the model serves, e.g. `"text-classification"`.
        paper: the paper (authors, year, title) the configuration comes from.
        **defaults: defaults that replace the builder's own for this name.
    """

    def decorator(builder):
        if name in _REGISTRY:
            raise ValueError(f"A model named {name!r} is already registered.")
        valid = inspect.signature(builder).parameters
        unknown = sorted(set(defaults) - set(valid))
        if unknown:
            raise TypeError(f"register({name!r}): {unknown} are not arguments of {builder.__name__}.")
        _REGISTRY[name] = ModelEntry(name, builder, task, paper, dict(defaults))
        return builder

    return decorator


def _entry(name):
    if name not in _REGISTRY:
        close = difflib.get_close_matches(str(name), list(_REGISTRY), n=5, cutoff=0.4)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise ValueError(
            f"Unknown model {name!r}.{hint} Registered models: {', '.join(sorted(_REGISTRY))}. "
            "See zoo.list_models()."
        )
    return _REGISTRY[name]


def build(name, weights=None, strict=True, **overrides):
    """Builds the registered model `name` with `overrides` of its configuration.

    Args:
        name: a registered model (`list_models()`).
        weights: optional path of a checkpoint of the model's reference implementation, timm's
            `model.safetensors` or a torchvision / timm `.pth` state dict (`zoo.checkpoints`): the
            model then computes the reference's logits. A `num_classes` override replaces the
            classifier (the rest loads); another `input_shape` resamples a ViT's position table.
        strict: with `weights`, refuse a checkpoint unless every weight loads and every key is used
            (nothing is assigned otherwise); False loads what matches and warns what it skipped.
        **overrides: builder arguments.

    Returns:
        An uncompiled `keras.Model` named `name`, with named inputs and outputs.

    Raises:
        ValueError: unknown `name` (the message lists the closest names), an
            override that is not an argument of the builder (the message lists
            the valid ones), or an invalid value (raised by the builder).
        zoo.checkpoints.CheckpointError: a model without a checkpoint layout, an unreadable
            checkpoint, or one of another model (the message names the keys and shapes).
    """
    entry = _entry(name)
    configuration = entry.configuration()
    unknown = sorted(set(overrides) - set(configuration))
    if unknown:
        raise ValueError(
            f"Unknown argument(s) {', '.join(map(repr, unknown))} for model {name!r}. "
            f"Valid arguments: {', '.join(configuration)}."
        )
    configuration |= overrides
    layout = None if weights is None else _checkpoint_layout(entry, configuration)
    model = entry.builder(**configuration)
    model.name = name
    if layout is not None:
        from zoo.checkpoints import load_checkpoint

        load_checkpoint(model, weights, layout, strict=strict, new_head="num_classes" in overrides)
    return model


def _checkpoint_refusal(entry, configuration):
    """Why `entry` at `configuration` cannot load a checkpoint, or None when its layout takes one."""
    layout = getattr(entry.builder, "checkpoint_layout", None)
    if layout is None:
        return "no timm or torchvision checkpoint has its architecture"
    return None if layout.supports is None else layout.supports(configuration)


def _checkpoint_layout(entry, configuration):
    """The layout `entry`'s checkpoints load through, or a `CheckpointError` saying why there is none."""
    from zoo.checkpoints import CheckpointError

    reason = _checkpoint_refusal(entry, configuration)
    if reason:
        loading = sorted(name for name, other in _REGISTRY.items() if not _checkpoint_refusal(other, other.configuration()))
        raise CheckpointError(
            f"{entry.name!r} cannot load `weights`: {reason}. Models that load checkpoints: {', '.join(loading)}."
        )
    return entry.builder.checkpoint_layout


def default_config(name):
    """The configuration `build(name)` uses: every builder argument with its default."""
    return _entry(name).configuration()


def task_of(name):
    """The task `name` serves (e.g. `"translation"`)."""
    return _entry(name).task


def list_models(pattern="*", task=None):
    """Sorted names matching the shell-style `pattern`, optionally of one `task`."""
    return sorted(
        name
        for name, entry in _REGISTRY.items()
        if fnmatch.fnmatch(name, pattern) and (task is None or entry.task == task)
    )


def describe(name):
    """What `name` is: task, paper, summary, configuration, the checkpoints it loads, size, inputs and outputs.

    Builds the model at its defaults to count parameters.
    """
    from layers.transformer import attention_description  # the registry itself needs no Keras

    entry = _entry(name)
    model = build(name)

    def tensors(ts):
        return {t.name: {"shape": list(t.shape), "dtype": str(t.dtype)} for t in ts}

    configuration = entry.configuration()
    return {
        "name": name,
        "task": entry.task,
        "paper": entry.paper,
        "summary": inspect.getdoc(entry.builder).splitlines()[0],
        **({"attention": attention_description(configuration["attention"], configuration["attention_options"])}
           if "attention_options" in configuration else {}),
        "defaults": configuration,
        "checkpoints": None if _checkpoint_refusal(entry, configuration) else entry.builder.checkpoint_layout.name,
        "parameters": model.count_params(),
        "trainable_parameters": sum(int(math.prod(weight.shape)) for weight in model.trainable_weights),
        "inputs": tensors(model.inputs),
        "outputs": {name: spec for name, spec in zip(model.output_names, tensors(model.outputs).values())},
    }
