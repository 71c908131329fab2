# Deployed first, once: the Azure ML registry shared by every environment (stage and prod deploy
# the models dev shares into it) and its Log Analytics workspace. Each environment's
# aml-managed-smi then adds its own private endpoints to the registry (and to its storage and
# ACR) and its managed network's rule to it, with that environment's identity: this stack
# writes nothing into an environment.

module "naming" {
  source      = "../modules/naming"
  namespace   = var.namespace
  postfix     = var.postfix
  environment = "shared"
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

# azurerm 4.20 has no Azure ML registry resource, so the registry goes through azapi.
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
