# Values for 'prod'; equal to config-infra-prod.yml (tests/infrastructure checks they agree).
namespace             = "taxifare"
postfix               = "0001"
environment           = "prod"
location              = "westeurope"
vnet_address_space    = "10.30.0.0/16"
private_subnet_prefix = "10.30.1.0/24"
