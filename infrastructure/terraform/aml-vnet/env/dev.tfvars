# Values for 'dev'; equal to config-infra-dev.yml (tests/infrastructure checks they agree).
namespace             = "taxifare"
postfix               = "0001"
environment           = "dev"
location              = "westeurope"
vnet_address_space    = "10.10.0.0/16"
private_subnet_prefix = "10.10.1.0/24"
