variable "namespace" {
  description = "3-8 lowercase letters/digits (config-infra-<env>.yml: namespace)."
  type        = string
}

variable "postfix" {
  description = "4 digits (config-infra-<env>.yml: postfix)."
  type        = string
}

variable "environment" {
  description = "dev, stage or prod (config-infra-<env>.yml: environment)."
  type        = string
}

variable "location" {
  description = "Azure region (config-infra-<env>.yml: location)."
  type        = string
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}

variable "private_networking_enabled" {
  description = "Private endpoints and public network access off (the default). false exposes the services publicly: for throw-away sandboxes only."
  type        = bool
  default     = true
}

variable "allowed_ip_ranges" {
  description = "Public IPs/CIDR ranges that may still reach the workspace and storage account (e.g. a hosted agent's egress). Empty keeps public access fully off."
  type        = list(string)
  default     = []
}

variable "user_object_id" {
  description = "Entra ID object id of the user or group that works in the workspace."
  type        = string
}

variable "user_principal_type" {
  description = "User or Group."
  type        = string
  default     = "Group"

  validation {
    condition     = contains(["User", "Group"], var.user_principal_type)
    error_message = "user_principal_type must be User or Group."
  }
}

variable "compute_vm_size" {
  description = "VM size of the cpu-cluster (config-infra-<env>.yml: compute_vm_size)."
  type        = string
  default     = "Standard_DS3_v2"
}

variable "compute_min_instances" {
  description = "Minimum nodes; 0 scales to zero when idle (config-infra-<env>.yml: compute_min_instances)."
  type        = number
  default     = 0
}

variable "compute_max_instances" {
  description = "Maximum nodes (config-infra-<env>.yml: compute_max_instances)."
  type        = number
  default     = 2
}

variable "compute_idle_before_scale_down" {
  description = "ISO 8601 idle time before nodes are released."
  type        = string
  default     = "PT15M"
}
