# Values for 'prod'; equal to config-infra-prod.yml (tests/infrastructure checks they agree).
namespace   = "taxifare"
postfix     = "0001"
environment = "prod"
location    = "westeurope"

compute_vm_size       = "Standard_DS4_v2"
compute_min_instances = 0
compute_max_instances = 4

# Entra ID object id of the team (group) that works in this workspace: set it here or pass
# -var user_object_id=... from the pipeline.
user_principal_type = "Group"
