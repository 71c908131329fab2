# Stack 1 of 3: the environment's network and identities. Deploy before aml-managed-smi.

module "naming" {
  source      = "../modules/naming"
  namespace   = var.namespace
  postfix     = var.postfix
  environment = var.environment
}

locals {
  names = module.naming.names
  tags  = merge({ environment = var.environment, workload = var.namespace }, var.tags)
}

resource "azurerm_resource_group" "env" {
  name     = local.names.resource_group
  location = var.location
  tags     = local.tags
}

resource "azurerm_virtual_network" "env" {
  name                = local.names.virtual_network
  location            = var.location
  resource_group_name = azurerm_resource_group.env.name
  address_space       = [var.vnet_address_space]
  tags                = local.tags
}

resource "azurerm_network_security_group" "private" {
  name                = local.names.network_security_group
  location            = var.location
  resource_group_name = azurerm_resource_group.env.name
  tags                = local.tags
}

resource "azurerm_subnet" "private" {
  name                              = local.names.subnet
  resource_group_name               = azurerm_resource_group.env.name
  virtual_network_name              = azurerm_virtual_network.env.name
  address_prefixes                  = [var.private_subnet_prefix]
  default_outbound_access_enabled   = false
  private_endpoint_network_policies = "Enabled"
}

resource "azurerm_subnet_network_security_group_association" "private" {
  subnet_id                 = azurerm_subnet.private.id
  network_security_group_id = azurerm_network_security_group.private.id
}

resource "azurerm_user_assigned_identity" "workspace" {
  name                = local.names.workspace_identity
  location            = var.location
  resource_group_name = azurerm_resource_group.env.name
  tags                = local.tags
}

resource "azurerm_user_assigned_identity" "compute" {
  name                = local.names.compute_identity
  location            = var.location
  resource_group_name = azurerm_resource_group.env.name
  tags                = local.tags
}

module "private_dns" {
  source              = "../modules/private-dns-zones"
  resource_group_name = azurerm_resource_group.env.name
  virtual_network_id  = azurerm_virtual_network.env.id
  link_name           = "link-${local.names.virtual_network}"
  tags                = local.tags
}
