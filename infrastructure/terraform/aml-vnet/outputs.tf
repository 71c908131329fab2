output "resource_group_name" {
  description = "The environment's resource group."
  value       = azurerm_resource_group.env.name
}

output "private_subnet_id" {
  description = "Subnet for private endpoints."
  value       = azurerm_subnet.private.id
}

output "workspace_identity_id" {
  description = "User-assigned identity of the workspace."
  value       = azurerm_user_assigned_identity.workspace.id
}

output "compute_identity_id" {
  description = "User-assigned identity of the compute cluster."
  value       = azurerm_user_assigned_identity.compute.id
}

output "private_dns_zone_ids" {
  description = "Private DNS zone id by zone name."
  value       = module.private_dns.zone_ids
}
