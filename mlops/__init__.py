"""Platform tooling for the taxi-fare template: local twin, offline checks, endpoints, promotion."""
