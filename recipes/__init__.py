"""Task pipelines: data -> tokenizer or augmentation -> zoo model -> fit() -> TensorBoard -> metrics.

One module per task (`text_classification`, `translation`, `image_recognition`);
shared readers in `data`, optimizers and schedules in `optimization`, callbacks
in `callbacks`, the run directory in `run`, the command line in `cli`.
"""
