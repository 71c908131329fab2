"""The floor the command areas stand on: release files and their deploy pins, the local
registry stores, release history and "which model does env X run". Imports only
mlops.errors, mlops.settings and taxi_fare, never a command area (endpoints, promotion,
azure, ado, monitoring)."""
