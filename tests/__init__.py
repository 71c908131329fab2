"""The test suite: one package per source folder (``tests/data_science`` for data-science/src,
``tests/mlops/<area>`` for mlops/<area>, ``tests/bench``, ``tests/infrastructure``).

Packages so shared helpers import by full name (``tests.data_science.ds_rows``); pytest's
``pythonpath`` (pyproject.toml) puts the repository root and data-science/src on sys.path.
"""
