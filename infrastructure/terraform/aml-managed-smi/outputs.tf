output "workspace_name" {
  description = "Azure ML workspace name (the pipelines' workspace)."
  value       = azurerm_machine_learning_workspace.this.name
}

output "workspace_id" {
  description = "Azure ML workspace resource id."
  value       = azurerm_machine_learning_workspace.this.id
}

output "compute_cluster_name" {
  description = "Training compute cluster name."
  value       = azurerm_machine_learning_compute_cluster.cpu.name
}
