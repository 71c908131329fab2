variable "namespace" {
  description = "3-8 lowercase letters/digits (config-infra-<env>.yml: namespace)."
  type        = string
}

variable "postfix" {
  description = "4 digits (config-infra-<env>.yml: postfix)."
  type        = string
}

variable "location" {
  description = "Azure region of the registry (config-infra-<env>.yml: location)."
  type        = string
}

variable "network_environments" {
  description = "Environments whose virtual network (from aml-vnet) gets a private endpoint to the registry."
  type        = list(string)
  default     = ["dev", "stage", "prod"]

  validation {
    condition     = alltrue([for env in var.network_environments : contains(["dev", "stage", "prod"], env)])
    error_message = "network_environments may only hold dev, stage and prod."
  }
}

variable "private_networking_enabled" {
  description = "Private endpoints and public network access off (the default)."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}
