"""Platform tooling for the taxi-fare template: local twin, offline checks, endpoints, promotion.

Floors (imported by the areas, importing none of them): ``errors``, ``settings``,
``yamlload``, ``registry``, ``amlspec``, ``local``. Command areas: ``endpoints``,
``promotion``, ``monitoring``, ``azure``, ``ado``, ``checks``, ``datagen``. The allowed
arrows are in docs/architecture.md and tests/mlops/test_import_directions.py.
"""
