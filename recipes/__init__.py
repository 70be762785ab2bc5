"""Task pipelines: data -> tokenizer or augmentation -> zoo model -> fit() -> TensorBoard -> metrics.

One training flow (`task`: `Task`, `BaseConfig`), shared by classifiers
(`classification`); one module per task (`text_classification`, `translation`,
`image_recognition`); `data/` (readers, tokens, augmentation), `training/` (the run
directory, callbacks, optimization), `reporting/` (figures, attention logging,
TensorBoard); the command line in `cli`.
"""
