# One private endpoint for one private link sub-resource, registered in its private DNS zones
# (the aml-vnet zones), so names resolve to the private address inside the virtual network.

variable "name" {
  description = "Private endpoint name."
  type        = string
}

variable "location" {
  description = "Azure region of the endpoint (the virtual network's region)."
  type        = string
}

variable "resource_group_name" {
  description = "Resource group that holds the endpoint."
  type        = string
}

variable "subnet_id" {
  description = "Subnet the endpoint's network interface is placed in."
  type        = string
}

variable "target_resource_id" {
  description = "Resource the endpoint connects to."
  type        = string
}

variable "subresource_name" {
  description = "Private link sub-resource (group id), e.g. amlworkspace, blob, vault, registry, amlregistry."
  type        = string
}

variable "private_dns_zone_ids" {
  description = "Private DNS zones the endpoint registers its addresses in."
  type        = list(string)
}

variable "tags" {
  description = "Tags applied to the endpoint."
  type        = map(string)
  default     = {}
}

resource "azurerm_private_endpoint" "this" {
  name                = var.name
  location            = var.location
  resource_group_name = var.resource_group_name
  subnet_id           = var.subnet_id
  tags                = var.tags

  private_service_connection {
    name                           = var.subresource_name
    private_connection_resource_id = var.target_resource_id
    subresource_names              = [var.subresource_name]
    is_manual_connection           = false
  }

  private_dns_zone_group {
    name                 = "default"
    private_dns_zone_ids = var.private_dns_zone_ids
  }
}

output "id" {
  description = "Private endpoint resource id."
  value       = azurerm_private_endpoint.this.id
}
