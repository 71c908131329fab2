# Values for 'stage'; equal to config-infra-stage.yml (tests/infrastructure checks they agree).
namespace   = "taxifare"
postfix     = "0001"
environment = "stage"
location    = "westeurope"

compute_vm_size       = "Standard_DS3_v2"
compute_min_instances = 0
compute_max_instances = 2

# Entra ID object id of the team (group) that works in this workspace: set it here or pass
# -var user_object_id=... from the pipeline.
user_principal_type = "Group"
