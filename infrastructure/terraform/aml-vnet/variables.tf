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

variable "vnet_address_space" {
  description = "Address space of the environment's virtual network; give each environment its own range if you peer them."
  type        = string
  default     = "10.0.0.0/16"
}

variable "private_subnet_prefix" {
  description = "Subnet that holds the private endpoints (and self-hosted agents, if you place them here)."
  type        = string
  default     = "10.0.1.0/24"
}
