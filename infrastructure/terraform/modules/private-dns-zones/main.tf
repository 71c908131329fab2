# The private DNS zones Azure ML and its dependent services resolve through, each linked to
# the environment's virtual network so anything inside it (or peered with it and using its
# DNS) resolves the private endpoint addresses.

variable "resource_group_name" {
  description = "Resource group that holds the zones."
  type        = string
}

variable "virtual_network_id" {
  description = "The virtual network every zone is linked to."
  type        = string
}

variable "link_name" {
  description = "Name of the virtual network link in each zone."
  type        = string
}

variable "tags" {
  description = "Tags applied to every zone and link."
  type        = map(string)
  default     = {}
}

locals {
  zones = toset([
    "privatelink.api.azureml.ms",
    "privatelink.notebooks.azure.net",
    "privatelink.blob.core.windows.net",
    "privatelink.file.core.windows.net",
    "privatelink.queue.core.windows.net",
    "privatelink.table.core.windows.net",
    "privatelink.vaultcore.azure.net",
    "privatelink.azurecr.io",
  ])
  # No privatelink.monitor.azure.com: without an Azure Monitor private link scope behind it, a
  # linked empty zone makes every *.monitor.azure.com name fail to resolve inside the network
  # (https://learn.microsoft.com/azure/azure-monitor/logs/private-link-design). Add the scope
  # and its zones together if ingestion must stay private.
}

resource "azurerm_private_dns_zone" "zone" {
  for_each            = local.zones
  name                = each.value
  resource_group_name = var.resource_group_name
  tags                = var.tags
}

resource "azurerm_private_dns_zone_virtual_network_link" "link" {
  for_each              = local.zones
  name                  = var.link_name
  resource_group_name   = var.resource_group_name
  private_dns_zone_name = azurerm_private_dns_zone.zone[each.value].name
  virtual_network_id    = var.virtual_network_id
  registration_enabled  = false
  tags                  = var.tags
}

output "zone_ids" {
  description = "Private DNS zone id by zone name."
  value       = { for name, zone in azurerm_private_dns_zone.zone : name => zone.id }
}
