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

variable "private_networking_enabled" {
  description = "Public network access off (the default); each environment's aml-managed-smi adds its private endpoints."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}
