"""attention-zoo: a Keras 3 model zoo of attention models."""

from pathlib import Path

from setuptools import setup

EXPORT = ["tf2onnx>=1.17", "onnxruntime"]

setup(
    name="attention-zoo",
    version="0.1.0",
    description="Keras 3 attention layers, a registry of ready attention models, and training recipes.",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    packages=["layers", "zoo", "recipes", "recipes.data", "recipes.training", "recipes.reporting"],
    package_data={"recipes": ["catalog.json"]},  # the registry for `zoo list` / `zoo describe` without Keras
    python_requires=">=3.10",
    install_requires=[
        "tensorflow>=2.21,<2.22",
        "keras>=3.15",
        "keras-hub>=0.32",
        "tensorboard",
        "sacrebleu>=2.4",
        "matplotlib>=3.8",
        # Time series: the UCR/UEA datasets its wheel bundles, its loaders of the archives and of .ts files.
        "aeon>=1.6,<2",
        # zoo.build(name, weights="model.safetensors"): timm's checkpoint files, read without PyTorch.
        "safetensors>=0.4",
    ],
    extras_require={
        # `zoo export --format onnx`: the converter Keras uses on TensorFlow, and the runtime that checks its file.
        "export": EXPORT,
        "dev": [
            *EXPORT,
            "pytest",
            # The README's test command runs the test files on two processes.
            "pytest-xdist",
            "hypothesis",
            # Layers and zoo must run on JAX too; the suite checks them there.
            "jax[cpu]",
            # The notebooks are executed by the suite.
            "nbclient",
            "nbformat",
            "ipykernel",
        ],
    },
    entry_points={"console_scripts": ["zoo = recipes.cli:main"]},
)
