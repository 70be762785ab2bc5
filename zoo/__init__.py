"""Registry of ready attention architectures.

>>> import zoo
>>> zoo.list_models(task="text-classification")
['bilstm_attention', 'transformer_classifier_small', 'transformer_classifier_tiny']
>>> model = zoo.build("transformer_classifier_tiny", vocab_size=8000, num_classes=2)
>>> logits, maps = zoo.attention_maps(model, token_ids)  # every attention layer's weights, by kind: maps["encoder_0"]["self"]

`import zoo` registers every object a saved model of the zoo or of a recipe run holds, so
`keras.saving.load_model("RUN_DIR/model.keras")` needs nothing else.
"""

from zoo import objectives, text, time_series, translation, vision  # noqa: F401  (registers the models, and the losses and schedules saved runs hold)
from zoo.inspection import attention_maps, attention_rollout
from zoo.registry import build, default_config, describe, list_models, register, task_of

__all__ = ["attention_maps", "attention_rollout", "build", "default_config", "describe", "list_models", "register", "task_of"]
