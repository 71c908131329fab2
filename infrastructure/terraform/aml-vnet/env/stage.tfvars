# Values for 'stage'; equal to config-infra-stage.yml (tests/infrastructure checks they agree).
namespace             = "taxifare"
postfix               = "0001"
environment           = "stage"
location              = "westeurope"
vnet_address_space    = "10.20.0.0/16"
private_subnet_prefix = "10.20.1.0/24"
