output "registry_name" {
  description = "Azure ML registry name (mlops/releases/*.yml: model.registry)."
  value       = azapi_resource.registry.name
}

output "registry_id" {
  description = "Azure ML registry resource id."
  value       = azapi_resource.registry.id
}
