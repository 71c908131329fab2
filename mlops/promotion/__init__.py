"""PR-gated promotion dev -> stage -> prod (``mlops promote``, ``rollback``, ``models``).

``promote`` drives the walk (share, deploy, stage tests, record), ``stage_tests`` judges a
deployed version, ``inventory`` lists versions, ``deploy`` is the Deployer/Endpoint
interface, ``azure_release`` the Azure side (share, stage tags, release checks). The
release files, registry stores and history it writes live in :mod:`mlops.registry`; the
local deployer it wires lives in :mod:`mlops.endpoints.local_deploy`.
"""

#: The top-level ``mlops`` commands ``commands.register`` adds, in its order, with the
#: line ``mlops --help`` shows for each: mlops/cli.py lists them without importing the
#: area and loads it only to run one (tests/mlops/test_cli.py fails if they drift).
COMMANDS = {
    "promote": (
        "Promote a model version to stage (share, deploy, stage tests) or prod (stage-passed only)."
    ),
    "rollback": "Return an environment to its previous release (from the release history).",
    "models": "Versions with metrics and lineage tags; which is champion, released and deployed.",
    "release": "Release files and the Azure side of promotion (share, stage tests, prod check).",
}
