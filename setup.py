"""The C kernels, compiled at install (gcc and the Python headers); all else is pyproject.toml.

Declared here because setuptools still marks extension modules in pyproject.toml experimental.
"""

from setuptools import Extension, setup

FLAGS = ["-O3", "-std=gnu11", "-pthread"]
SHARED = ["src/countersignal/_buffers.h"]  # included by both: a change rebuilds both

setup(
    ext_modules=[
        Extension(
            "countersignal.index._kernels", ["src/countersignal/index/_kernels.c"],
            depends=SHARED, extra_compile_args=FLAGS, extra_link_args=["-pthread"],
        ),
        Extension(
            "countersignal.signals._minhash", ["src/countersignal/signals/_minhash.c"],
            depends=SHARED, extra_compile_args=FLAGS,
        ),
    ]
)
