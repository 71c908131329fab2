# One naming scheme for every stack (the same rules as config-infra-<env>.yml and the
# Azure DevOps pipelines): <ns> = namespace, <pf> = postfix, <env> = environment.

variable "namespace" {
  description = "3-8 lowercase letters/digits, shared by every environment."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]{3,8}$", var.namespace))
    error_message = "namespace must be 3-8 lowercase letters or digits."
  }
}

variable "postfix" {
  description = "4 digits; change it to get globally unique names."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{4}$", var.postfix))
    error_message = "postfix must be exactly 4 digits."
  }
}

variable "environment" {
  description = "dev, stage or prod; 'shared' names the resources every environment uses."
  type        = string

  validation {
    condition     = contains(["dev", "stage", "prod", "shared"], var.environment)
    error_message = "environment must be one of dev, stage, prod, shared."
  }
}

locals {
  names = {
    resource_group          = "rg-${var.namespace}-${var.postfix}${var.environment}"
    workspace               = "mlw-${var.namespace}-${var.postfix}${var.environment}"
    storage_account         = "st${var.namespace}${var.postfix}${var.environment}"
    key_vault               = "kv-${var.namespace}-${var.postfix}${var.environment}"
    container_registry      = "cr${var.namespace}${var.postfix}${var.environment}"
    application_insights    = "appi-${var.namespace}-${var.postfix}${var.environment}"
    log_analytics           = "log-${var.namespace}-${var.postfix}${var.environment}"
    virtual_network         = "vnet-${var.namespace}-${var.postfix}${var.environment}"
    subnet                  = "snet-private"
    network_security_group  = "nsg-${var.namespace}-${var.postfix}${var.environment}"
    workspace_identity      = "id-${var.namespace}-${var.postfix}${var.environment}-ws"
    compute_identity        = "id-${var.namespace}-${var.postfix}${var.environment}-compute"
    compute_cluster         = "cpu-cluster"
    online_endpoint         = "ep-${var.namespace}-${var.postfix}${var.environment}"
    batch_endpoint          = "bep-${var.namespace}-${var.postfix}${var.environment}"
    registry                = "mlr-${var.namespace}-${var.postfix}"
    registry_resource_group = "rg-${var.namespace}-${var.postfix}shared"
  }
}

# Azure length limits, checked at plan time instead of failing half-way through an apply. These
# are output preconditions, not a `check` block: a failed check assertion is only a warning,
# a failed precondition is an error that stops the plan
# (https://developer.hashicorp.com/terraform/language/expressions/custom-conditions).
output "names" {
  description = "Every derived resource name, keyed by resource kind."
  value       = local.names

  precondition {
    condition     = length(local.names.storage_account) >= 3 && length(local.names.storage_account) <= 24
    error_message = "storage account name ${local.names.storage_account} must be 3-24 characters."
  }
  precondition {
    condition     = length(local.names.key_vault) >= 3 && length(local.names.key_vault) <= 24
    error_message = "key vault name ${local.names.key_vault} must be 3-24 characters."
  }
  precondition {
    condition     = length(local.names.online_endpoint) <= 32 && length(local.names.batch_endpoint) <= 32
    error_message = "endpoint names must be at most 32 characters."
  }
}
