"""PR-gated promotion dev -> stage -> prod (``mlops promote``, ``rollback``, ``models``).

``promote`` drives the walk (share, deploy, stage tests, record), ``stage_tests`` judges a
deployed version, ``inventory`` lists versions, ``deploy`` is the Deployer/Endpoint
interface, ``azure_release`` the Azure side (share, stage tags, release checks). The
release files, registry stores and history it writes live in :mod:`mlops.registry`; the
local deployer it wires lives in :mod:`mlops.endpoints.local_deploy`.
"""

#: The top-level ``mlops`` names ``commands.register`` adds, in its order: mlops/cli.py
#: loads this area only for them (tests/mlops/test_cli.py fails if the two drift).
COMMANDS = ("promote", "rollback", "models", "release")
