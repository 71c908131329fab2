# Stack 3 of 3: the Azure ML registry shared by every environment (stage and prod deploy the
# models dev shares into it), its Log Analytics workspace, and a private endpoint in each
# environment's virtual network. Needs aml-vnet deployed for every network_environments entry.

module "naming" {
  source      = "../modules/naming"
  namespace   = var.namespace
  postfix     = var.postfix
  environment = "shared"
}

module "env_naming" {
  source      = "../modules/naming"
  for_each    = toset(var.network_environments)
  namespace   = var.namespace
  postfix     = var.postfix
  environment = each.value
}

locals {
  names = module.naming.names
  tags  = merge({ environment = "shared", workload = var.namespace }, var.tags)
}

resource "azurerm_resource_group" "shared" {
  name     = local.names.registry_resource_group
  location = var.location
  tags     = local.tags
}

resource "azurerm_log_analytics_workspace" "shared" {
  name                = local.names.log_analytics
  location            = var.location
  resource_group_name = azurerm_resource_group.shared.name
  sku                 = "PerGB2018"
  retention_in_days   = 30
  tags                = local.tags
}

# azurerm 4.14 has no Azure ML registry resource, so the registry goes through azapi.
resource "azapi_resource" "registry" {
  type      = "Microsoft.MachineLearningServices/registries@2024-10-01"
  name      = local.names.registry
  location  = var.location
  parent_id = azurerm_resource_group.shared.id
  tags      = local.tags

  identity {
    type = "SystemAssigned"
  }

  body = {
    properties = {
      publicNetworkAccess = var.private_networking_enabled ? "Disabled" : "Enabled"
      regionDetails = [
        {
          location = var.location
          storageAccountDetails = [
            {
              systemCreatedStorageAccount = {
                storageAccountType       = "Standard_GRS"
                storageAccountHnsEnabled = false
                allowBlobPublicAccess    = false
              }
            }
          ]
          acrDetails = [
            {
              systemCreatedAcrAccount = {
                acrAccountSku = "Premium"
              }
            }
          ]
        }
      ]
    }
  }
}

resource "azurerm_monitor_diagnostic_setting" "registry" {
  name                       = "to-${local.names.log_analytics}"
  target_resource_id         = azapi_resource.registry.id
  log_analytics_workspace_id = azurerm_log_analytics_workspace.shared.id

  enabled_log {
    category_group = "allLogs"
  }
}

data "azurerm_subnet" "private" {
  for_each             = var.private_networking_enabled ? module.env_naming : {}
  name                 = each.value.names.subnet
  virtual_network_name = each.value.names.virtual_network
  resource_group_name  = each.value.names.resource_group
}

data "azurerm_private_dns_zone" "api" {
  for_each            = var.private_networking_enabled ? module.env_naming : {}
  name                = "privatelink.api.azureml.ms"
  resource_group_name = each.value.names.resource_group
}

module "private_endpoint" {
  source               = "../modules/private-endpoint"
  for_each             = var.private_networking_enabled ? module.env_naming : {}
  name                 = "pe-${local.names.registry}-${each.key}"
  location             = var.location
  resource_group_name  = each.value.names.resource_group
  subnet_id            = data.azurerm_subnet.private[each.key].id
  target_resource_id   = azapi_resource.registry.id
  subresource_name     = "amlregistry"
  private_dns_zone_ids = [data.azurerm_private_dns_zone.api[each.key].id]
  tags                 = local.tags
}
