output "workspace_name" {
  description = "Azure ML workspace name (the pipelines' workspace)."
  value       = azapi_resource.workspace.name
}

output "workspace_id" {
  description = "Azure ML workspace resource id."
  value       = azapi_resource.workspace.id
}

output "compute_cluster_name" {
  description = "Training compute cluster name."
  value       = azurerm_machine_learning_compute_cluster.cpu.name
}
