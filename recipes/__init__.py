"""Task pipelines: data -> tokenizer -> zoo model -> fit() -> TensorBoard -> metrics.

One module per task (`text_classification`); shared readers in `data`, callbacks
in `callbacks`, the run directory in `run`, the command line in `cli`.
"""
