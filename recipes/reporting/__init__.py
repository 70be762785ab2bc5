"""What a run shows: figures (`figures`), the attention probes logged every epoch
(`attention_logging`), TensorBoard on a run (`tensorboard`, behind `zoo inspect`)."""
